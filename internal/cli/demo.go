package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/touchline/touchline/internal/demo"
	"github.com/touchline/touchline/internal/listfile"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier"
)

func init() {
	register("demo", "offline demo: start a simulated mail world and clean the sample list against it", runDemo)
}

func runDemo(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "demo", "demo [--list FILE] [--answers FILE] [--output FILE]")
	list := fs.String("list", "examples/prospects.csv", "prospect list to clean")
	answers := fs.String("answers", "examples/prospects.answers.csv", "known verdicts of the list's rows, to score the run against (empty: do not score)")
	output := fs.String("output", "out/prospects.cleaned.csv", "where to write the cleaned list")
	latency := fs.Duration("smtp-latency", 0, "latency added to every simulated SMTP reply")
	if _, err := parseArgs(fs, args); err != nil {
		return flagError(err)
	}

	fmt.Fprintln(env.Stderr, "Starting the simulated mail world (DNS and SMTP on loopback)...")
	world, err := demo.World(mailsim.Options{SMTPLatency: *latency})
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline demo: %v\n", err)
		return ExitError
	}
	defer world.Close()
	fmt.Fprintf(env.Stderr, "  DNS %s, SMTP hosts on 127.1.0.0/16 port %d\n", world.DNSAddr(), world.SMTPPort())

	// The same settings a user would pass to `touchline verify`, pointed
	// at the simulated world and with timings shortened to its own.
	vf := verifyFlags{
		dnsServers:     listFlag{world.DNSAddr()},
		dnsTimeout:     time.Second,
		smtpPort:       world.SMTPPort(),
		helo:           "verifier.touchline.test",
		mailFrom:       "bounces@touchline.test",
		concurrency:    32,
		perHost:        2,
		timeout:        5 * time.Second,
		connectTimeout: 2 * time.Second,
		bannerTimeout:  2 * time.Second,
		greylistRetry:  demo.GreylistDelay + 500*time.Millisecond,
		greylistBudget: 4 * demo.GreylistDelay,
		allowNets:      listFlag{"127.0.0.0/8"},
	}
	fmt.Fprintf(env.Stderr, "  equivalent to: touchline verify --dns-server %s --smtp-port %d --helo %s --mail-from %s --allow-mx-network 127.0.0.0/8 --banner-timeout %s --greylist-retry %s %s\n\n",
		world.DNSAddr(), world.SMTPPort(), vf.helo, vf.mailFrom, vf.bannerTimeout, vf.greylistRetry, *list)
	cfg, err := vf.config()
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline demo: %v\n", err)
		return ExitError
	}
	v, err := verifier.New(cfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline demo: %v\n", err)
		return ExitError
	}
	defer v.Close()

	in, err := os.Open(*list)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline demo: %v\n", err)
		return ExitError
	}
	defer in.Close()
	total, _ := countFile(*list)
	if err := os.MkdirAll(filepath.Dir(*output), 0o755); err != nil {
		fmt.Fprintf(env.Stderr, "touchline demo: %v\n", err)
		return ExitError
	}
	out, err := os.Create(*output)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline demo: %v\n", err)
		return ExitError
	}
	_, code := cleanList(ctx, env, v, cleanOptions{in: in, name: *list, total: total, out: out, format: "csv", window: verifier.DefaultWindow})
	if err := out.Close(); err != nil && code == ExitOK {
		fmt.Fprintf(env.Stderr, "touchline demo: %v\n", err)
		code = ExitError
	}
	if code != ExitOK {
		return code
	}
	fmt.Fprintf(env.Stderr, "\nCleaned list: %s\n", *output)
	if *answers == "" {
		return ExitOK
	}
	score, err := scoreAgainst(*output, *answers)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline demo: scoring: %v\n", err)
		return ExitError
	}
	fmt.Fprintf(env.Stderr, "Accuracy against the known answers (%s): status %d/%d (%.1f%%), status and reason %d/%d (%.1f%%)\n",
		*answers, score.status, score.rows, pct(score.status, score.rows), score.both, score.rows, pct(score.both, score.rows))
	for _, m := range score.misses {
		fmt.Fprintf(env.Stderr, "  row %s\n", m)
	}
	return ExitOK
}

func countFile(name string) (int, error) {
	f, err := os.Open(name)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	return listfile.CountRows(f)
}

type score struct {
	rows, status, both int
	misses             []string
}

func pct(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return 100 * float64(n) / float64(d)
}

// scoreAgainst compares a cleaned CSV with the answers file row by row.
func scoreAgainst(cleaned, answers string) (score, error) {
	var s score
	got, err := readCSV(cleaned)
	if err != nil {
		return s, err
	}
	want, err := readCSV(answers)
	if err != nil {
		return s, err
	}
	if len(got) != len(want) {
		return s, fmt.Errorf("cleaned list has %d rows, answers %d", len(got)-1, len(want)-1)
	}
	col := func(h []string, name string) int {
		for i, c := range h {
			if c == name {
				return i
			}
		}
		return -1
	}
	gs, gr := col(got[0], "status"), col(got[0], "reason")
	ws, wr := col(want[0], "status"), col(want[0], "reason")
	if gs < 0 || gr < 0 || ws < 0 || wr < 0 {
		return s, fmt.Errorf("missing status or reason column")
	}
	for i := 1; i < len(got); i++ {
		s.rows++
		g, w := got[i], want[i]
		okStatus := g[gs] == w[ws]
		if okStatus {
			s.status++
		}
		if okStatus && g[gr] == w[wr] {
			s.both++
			continue
		}
		s.misses = append(s.misses, fmt.Sprintf("%s %q: got %s/%s, want %s/%s", strconv.Itoa(i), strings.TrimSpace(w[1]), g[gs], g[gr], w[ws], w[wr]))
	}
	return s, nil
}

func readCSV(name string) ([][]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return recs, nil
}
