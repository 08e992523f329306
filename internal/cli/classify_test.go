package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/touchline/touchline/internal/inbound/classify"
)

const classifyData = "testdata/classify/"

// decodeLines reads `classify --format json` output: one object a line.
func decodeLines(t *testing.T, out string) []classified {
	t.Helper()
	var res []classified
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c classified
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		res = append(res, c)
	}
	return res
}

// TestClassifyFiles: each sample's printed verdict is the classifier's
// (the command adds nothing and drops nothing), and the clear cases say
// what a person reading them would.
func TestClassifyFiles(t *testing.T) {
	t.Parallel()
	type rcpt struct{ addr, kind, status string }
	tests := []struct {
		file  string
		class classify.Class
		rcpts []rcpt
	}{
		{"dsn-rfc3464-postfix-hard-5.1.1.eml", classify.ClassBounce, []rcpt{{"jane.doe@example.com", "hard", "5.1.1"}}},
		{"dsn-rfc3464-multi-recipient-mixed-crlf.eml", classify.ClassBounce, []rcpt{
			{"ceo@example.com", "hard", "5.1.1"}, {"sales@example.com", "soft", "4.2.2"}, {"cfo@example.com", "sender", "5.7.1"}}},
		{"dsn-rfc3464-mailbox-full-5.2.2.eml", classify.ClassBounce, nil},
		{"dsn-rfc3464-relayed-success.eml", classify.ClassUnknown, nil},
		{"bounce-postfix-text-user-unknown.eml", classify.ClassBounce, nil},
		{"human-gmail-wrapped-attribution.eml", classify.ClassHumanReply, nil},
		{"ooo-en-apple-vacation-back-tomorrow.eml", classify.ClassAutoReply, nil},
		{"arf-yahoo-abuse.eml", classify.ClassComplaint, nil},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			path := classifyData + tc.file
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := classify.Classify(raw)
			if err != nil {
				t.Fatal(err)
			}
			code, out, stderr := run(t, "", "classify", "--format", "json", path)
			if code != ExitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			got := decodeLines(t, out)
			if len(got) != 1 || got[0].Verdict == nil {
				t.Fatalf("want one verdict, got %s", out)
			}
			v := got[0]
			if v.Input != path || v.Message != 1 || v.Line != 1 || v.Error != "" || v.Match != nil {
				t.Errorf("header fields %+v", v)
			}
			if v.Class != tc.class || v.Class != want.Class || v.Rule != want.Rule || v.OriginalMessageID != want.OriginalMessageID ||
				v.FeedbackType != want.FeedbackType || v.Snippet != want.Snippet || !reflect.DeepEqual(v.ReturnDate, want.ReturnDate) ||
				!slices.Equal(v.References, want.References) {
				t.Errorf("printed %+v\nclassifier %+v (want class %s)", *v.Verdict, want, tc.class)
			}
			if len(v.Recipients) != len(want.Recipients) {
				t.Fatalf("%d recipients printed, classifier %d", len(v.Recipients), len(want.Recipients))
			}
			for i, r := range want.Recipients {
				p := v.Recipients[i]
				if p.Address != r.Address || p.Kind != r.Kind || p.Reason != r.Reason || p.Status != r.Status || p.Action != r.Action || p.Diagnostic != r.Diagnostic {
					t.Errorf("recipient %d printed %+v, classifier %+v", i, p, r)
				}
			}
			for i, r := range tc.rcpts {
				if i >= len(v.Recipients) || v.Recipients[i].Address != r.addr || string(v.Recipients[i].Kind) != r.kind || v.Recipients[i].Status != r.status {
					t.Errorf("recipient %d: want %+v, got %+v", i, r, v.Recipients)
				}
			}

			// The text form says the same.
			code, text, _ := run(t, "", "classify", path)
			if code != ExitOK {
				t.Fatalf("text: exit %d", code)
			}
			for _, s := range []string{path + "\n", "class:       " + string(want.Class) + "\n", "rule:        " + want.Rule + "\n"} {
				if !strings.Contains(text, s) {
					t.Errorf("text lacks %q:\n%s", s, text)
				}
			}
			for _, r := range want.Recipients {
				for _, s := range []string{"recipient:   " + r.Address, "kind " + string(r.Kind), "status " + r.Status, "diagnostic: " + oneLine(r.Diagnostic)} {
					if !strings.HasSuffix(s, " ") && !strings.Contains(text, s) { // a complaint's recipient has only an address
						t.Errorf("text lacks %q:\n%s", s, text)
					}
				}
			}
		})
	}
}

// TestClassifyJSONShape pins the field names README.md documents.
func TestClassifyJSONShape(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, "no header here\n", "classify", "--format", "json", classifyData+"dsn-rfc3464-postfix-hard-5.1.1.eml", "-")
	if code != ExitError {
		t.Fatalf("exit %d, want %d for the input that is not a message", code, ExitError)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out)
	}
	keys := func(line string) (string, map[string]any) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		var k []string
		for n := range m {
			k = append(k, n)
		}
		sort.Strings(k)
		return strings.Join(k, " "), m
	}
	k, m := keys(lines[0])
	if want := "class feedback_type from input line match message original_message_id recipients references return_date rule snippet"; k != want {
		t.Errorf("verdict fields\n got %s\nwant %s", k, want)
	}
	r := m["recipients"].([]any)[0].(map[string]any)
	var rk []string
	for n := range r {
		rk = append(rk, n)
	}
	sort.Strings(rk)
	if got, want := strings.Join(rk, " "), "action address diagnostic kind reason status"; got != want {
		t.Errorf("recipient fields\n got %s\nwant %s", got, want)
	}
	k, m = keys(lines[1])
	if want := "error input line message"; k != want {
		t.Errorf("error fields\n got %s\nwant %s", k, want)
	}
	if m["input"] != "-" || m["error"] != classify.ErrNotMessage.Error() {
		t.Errorf("error object %v", m)
	}
}

func TestClassifyStdin(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(classifyData + "human-gmail-wrapped-attribution.eml")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"classify"}, {"classify", "-"}, {"classify", "--format", "text", "-"}} {
		code, out, stderr := run(t, string(raw), args...)
		if code != ExitOK || stderr != "" {
			t.Fatalf("%v: exit %d, %s", args, code, stderr)
		}
		if !strings.HasPrefix(out, "stdin\n  class:       human_reply\n") {
			t.Errorf("%v:\n%s", args, out)
		}
	}
	code, out, _ := run(t, "", "classify")
	if code != ExitError || out != "stdin: error: empty input: no message\n" {
		t.Errorf("empty stdin: exit %d, %q", code, out)
	}
}

// mbox joins messages as an mboxrd writer does: a From_ line before each,
// an empty line after each, body lines starting with "From " (after any
// ">") quoted with one more ">".
func mbox(msgs ...string) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("From MAILER-DAEMON Mon Mar  2 10:31:00 2026\n")
		for _, l := range strings.SplitAfter(m, "\n") {
			if strings.HasPrefix(strings.TrimLeft(l, ">"), "From ") {
				b.WriteString(">")
			}
			b.WriteString(l)
		}
		if !strings.HasSuffix(m, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestMessageReader(t *testing.T) {
	t.Parallel()
	m1 := "From: a@example.com\nSubject: one\n\nFrom here on, a body line that an mboxrd writer quotes.\n>From a quoted line, quoted again.\n"
	m2 := "From: b@example.com\r\nSubject: two\r\n\r\nCRLF body\r\n\r\nFrom me 10:30 to you: also quoted\r\n"
	m3 := "From: c@example.com\nSubject: three\n\nlast, no final newline"
	tests := []struct {
		name, in string
		want     []string
		lines    []int
	}{
		{"single message", m1, []string{m1}, []int{1}},
		{"empty", "", []string{""}, []int{1}},
		{"mboxrd", mbox(m1, m2, m3), []string{m1, m2, m3 + "\n"}, []int{1, 8, 16}},
		{"one-message mbox", mbox(m1), []string{m1}, []int{1}},
		// An mboxo writer leaves "From " lines it should have quoted; one
		// that does not look like a separator (no time of day) or does not
		// follow an empty line stays in its message.
		{"mboxo", "From x Mon Mar  2 10:31:00 2026\nSubject: a\n\nhi\n\nFrom the team, thanks\nFrom x Mon Mar 2 10:32 2026\n\nFrom x Mon Mar  2 10:33:00 2026\nSubject: b\n\nbye\n",
			[]string{"Subject: a\n\nhi\n\nFrom the team, thanks\nFrom x Mon Mar 2 10:32 2026\n", "Subject: b\n\nbye\n"}, []int{1, 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mr := newMessageReader(strings.NewReader(tc.in))
			var got []string
			var lines []int
			for {
				raw, line, err := mr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got, lines = append(got, string(raw)), append(lines, line)
			}
			if !slices.Equal(got, tc.want) || !slices.Equal(lines, tc.lines) {
				t.Errorf("got %q at lines %v\nwant %q at lines %v", got, lines, tc.want, tc.lines)
			}
		})
	}
}

// TestClassifyMbox: an mbox of bounces and replies, with a message that is
// not one, gives a verdict per message and an error line for the bad one.
func TestClassifyMbox(t *testing.T) {
	t.Parallel()
	var msgs []string
	for _, f := range []string{"dsn-rfc3464-postfix-hard-5.1.1.eml", "human-gmail-wrapped-attribution.eml", "arf-yahoo-abuse.eml"} {
		raw, err := os.ReadFile(classifyData + f)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, string(raw))
	}
	msgs = append(msgs, "this is not a message\n", msgs[1])
	path := filepath.Join(t.TempDir(), "returned.mbox")
	if err := os.WriteFile(path, []byte(mbox(msgs...)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "", "classify", "--format", "json", path)
	if code != ExitError || stderr != "" {
		t.Fatalf("exit %d (want %d: one message is not one), stderr %q", code, ExitError, stderr)
	}
	got := decodeLines(t, out)
	want := []classify.Class{classify.ClassBounce, classify.ClassHumanReply, classify.ClassComplaint, "", classify.ClassHumanReply}
	if len(got) != len(want) {
		t.Fatalf("%d verdicts, want %d:\n%s", len(got), len(want), out)
	}
	line := 1
	for i, c := range got {
		if c.Message != i+1 || c.Line != line || c.Input != path {
			t.Errorf("message %d: %+v, want line %d", i+1, c, line)
		}
		line += strings.Count(msgs[i], "\n") + 2 // its From_ line and the empty line after it
		if want[i] == "" {
			if c.Error != classify.ErrNotMessage.Error() || c.Verdict != nil {
				t.Errorf("message %d: %+v, want the not-a-message error", i+1, c)
			}
			continue
		}
		if c.Verdict == nil || c.Class != want[i] {
			t.Errorf("message %d: %+v, want %s", i+1, c, want[i])
		}
	}
	// A reply's snippet read from the mbox is the file's: unquoting and
	// the separator's empty line leave the message as it was.
	direct, _ := classify.Classify([]byte(msgs[1]))
	if got[1].Snippet != direct.Snippet || got[4].Snippet != direct.Snippet {
		t.Errorf("snippet from the mbox %q, from the file %q", got[1].Snippet, direct.Snippet)
	}

	code, text, _ := run(t, "", "classify", path)
	if code != ExitError || !strings.Contains(text, path+", message 2 (line ") || !strings.Contains(text, path+", message 4 (line ") ||
		!strings.Contains(text, ": error: "+classify.ErrNotMessage.Error()+"\n") {
		t.Errorf("text:\n%s", text)
	}
}

// TestClassifyBadInput: an unreadable file is named on stderr and the
// others are still classified; the exit code says something failed.
func TestClassifyBadInput(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.eml")
	good := classifyData + "arf-yahoo-abuse.eml"
	code, out, stderr := run(t, "", "classify", missing, good)
	if code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	if !strings.Contains(stderr, missing) || !strings.Contains(stderr, "no such file") {
		t.Errorf("stderr %q does not name the file and the cause", stderr)
	}
	if !strings.HasPrefix(out, good+"\n  class:       complaint\n") {
		t.Errorf("the readable file was not classified:\n%s", out)
	}

	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--format", "xml", good}, ExitUsage, `--format "xml": want text or json`},
		{[]string{"--workspace", "acme", good}, ExitUsage, "give --database-url"},
		{[]string{"--rcpt", "b-x@bounces.example", good}, ExitUsage, "give --database-url"},
		{[]string{dir}, ExitError, dir + ": "},
	} {
		code, _, stderr := run(t, "", append([]string{"classify"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}

// TestClassifyExampleMbox keeps README.md's example true: the mbox in
// examples/ holds a hard bounce, an out-of-office and a reply, at the
// lines the README shows.
func TestClassifyExampleMbox(t *testing.T) {
	t.Parallel()
	code, out, stderr := run(t, "", "classify", "--format", "json", "../../examples/returned.mbox")
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := decodeLines(t, out)
	want := []struct {
		class classify.Class
		line  int
	}{{classify.ClassBounce, 1}, {classify.ClassAutoReply, 73}, {classify.ClassHumanReply, 90}}
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d:\n%s", len(got), len(want), out)
	}
	for i, w := range want {
		if got[i].Verdict == nil || got[i].Class != w.class || got[i].Line != w.line {
			t.Errorf("message %d: %+v, want %s at line %d", i+1, got[i], w.class, w.line)
		}
	}
	if r := got[0].Recipients; len(r) != 1 || r[0].Address != "jane.doe@example.com" || r[0].Kind != classify.Hard || r[0].Status != "5.1.1" {
		t.Errorf("the bounce's recipients: %+v", r)
	}
}

// FuzzMessageReader: whatever two messages an mboxrd writer stores, they
// come back as they were (a missing final newline added); and any input
// ends, one message or several, without an error.
func FuzzMessageReader(f *testing.F) {
	f.Add("Subject: a\n\nFrom here\n>From there\n", "Subject: b\r\n\r\nbody\r\n\r\n")
	f.Add("", "From x Mon Mar  2 10:31:00 2026\n")
	f.Add("\n\n", ">>From \n")
	f.Fuzz(func(t *testing.T, a, b string) {
		read := func(in string) []string {
			mr := newMessageReader(strings.NewReader(in))
			var got []string
			for i := 0; ; i++ {
				raw, _, err := mr.Next()
				if err == io.EOF {
					return got
				}
				if err != nil || i > len(in)+1 {
					t.Fatalf("input %q: message %d, err %v", in, i, err)
				}
				got = append(got, string(raw))
			}
		}
		norm := func(s string) string {
			if !strings.HasSuffix(s, "\n") {
				s += "\n"
			}
			return s
		}
		if got := read(mbox(a, b)); !slices.Equal(got, []string{norm(a), norm(b)}) {
			t.Errorf("mbox of %q and %q read back as %q", a, b, got)
		}
		read(a + b)
	})
}
