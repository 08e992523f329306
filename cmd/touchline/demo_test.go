package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMakeRunShowsProspects runs what make run runs (serve --sim with the
// sample list) and signs in to the dashboard with the key it prints, as a
// newcomer would: the simulated recipients' replies must show up there as
// prospects, with their classification in the latest replies, within a
// minute of starting (the wait allows 90 s for a loaded machine; the time
// is logged).
func TestMakeRunShowsProspects(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for up to 90 s")
	}
	t.Parallel()
	_, dbURL := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := touchline(t, "serve", "--sim", "--listen", "127.0.0.1:0", "--log-level", "warn", "--demo-upload", "../../examples/prospects.csv")
	cmd.Env = append(cmd.Env, "DATABASE_URL="+dbURL)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()

	// What the newcomer reads: the URL and the key.
	var base, key string
	sc := bufio.NewScanner(out)
	reBase := regexp.MustCompile(`Touchline is running at (http://\S+)`)
	reKey := regexp.MustCompile(`API key \(workspace "[^"]+"\): (\S+)`)
	for sc.Scan() && (base == "" || key == "") {
		line := sc.Text()
		t.Log("stdout: " + line)
		if m := reBase.FindStringSubmatch(line); m != nil {
			base = m[1]
		}
		if m := reKey.FindStringSubmatch(line); m != nil {
			key = m[1]
		}
	}
	if base == "" || key == "" {
		t.Fatalf("serve did not print its URL and key (base %q, key %q)", base, key)
	}
	go io.Copy(io.Discard, out)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := client.PostForm(base+"/login", url.Values{"api_key": {key}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("sign-in: %s, ended at %s", resp.Status, resp.Request.URL)
	}
	kpi := func(page, id string) int {
		m := regexp.MustCompile(`data-testid="` + id + `">([0-9,]+)<`).FindStringSubmatch(page)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
		return n
	}
	var page string
	for deadline := start.Add(90 * time.Second); ; time.Sleep(time.Second) {
		resp, err := client.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
		if kpi(page, "kpi-prospects") > 0 && strings.Contains(page, ">human_reply<") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no prospect on the dashboard 90 s after start (prospects %d, replies %d, sent %d)",
				kpi(page, "kpi-prospects"), kpi(page, "kpi-replies"), kpi(page, "kpi-sent"))
		}
	}
	t.Logf("first prospect on the dashboard %s after start: %d prospects, %d replies, %d sent",
		time.Since(start).Round(time.Second), kpi(page, "kpi-prospects"), kpi(page, "kpi-replies"), kpi(page, "kpi-sent"))
}
