package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/touchline/touchline/internal/listfile"
	"github.com/touchline/touchline/verifier"
	"github.com/touchline/touchline/verifier/resolver"
)

func init() {
	register("verify", "verify one address (--email) or clean a CSV list of prospects", runVerify)
}

// verifyFlags are the verifier's settings as flags; demo reuses them.
type verifyFlags struct {
	dnsServers     listFlag
	dnsTimeout     time.Duration
	smtpPort       int
	helo           string
	mailFrom       string
	concurrency    int
	perHost        int
	timeout        time.Duration
	connectTimeout time.Duration
	bannerTimeout  time.Duration
	greylistRetry  time.Duration
	greylistBudget time.Duration
	allowPrivate   bool
	allowNets      listFlag
	noCatchAll     bool
	noStartTLS     bool
}

func (f *verifyFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.dnsServers, "dns-server", "DNS resolver `host:port` (repeatable; default: the servers in /etc/resolv.conf)")
	fs.DurationVar(&f.dnsTimeout, "dns-timeout", 2*time.Second, "timeout of one DNS query attempt")
	fs.IntVar(&f.smtpPort, "smtp-port", 25, "TCP `port` MX hosts are probed on")
	fs.StringVar(&f.helo, "helo", "", "EHLO `name`, a host name whose reverse DNS you control (default: this host's FQDN)")
	fs.StringVar(&f.mailFrom, "mail-from", "", "envelope sender `address` of probes (default: postmaster@ the EHLO name; \"<>\" for the null sender)")
	fs.IntVar(&f.concurrency, "concurrency", 64, "most SMTP connections open at once")
	fs.IntVar(&f.perHost, "per-host", 8, "most SMTP connections to one MX host; a host starts with one and gets more while it answers cleanly")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Second, "timeout of each SMTP command")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 10*time.Second, "timeout of a TCP connect")
	fs.DurationVar(&f.bannerTimeout, "banner-timeout", 20*time.Second, "how long to wait for a server's greeting")
	fs.DurationVar(&f.greylistRetry, "greylist-retry", 5*time.Minute, "wait before asking a greylisting server again (0 or negative: do not retry)")
	fs.DurationVar(&f.greylistBudget, "greylist-budget", 11*time.Minute, "most time greylisting may cost one address")
	fs.BoolVar(&f.allowPrivate, "allow-private-mx", false, "connect to MX hosts on loopback, private, link-local and other non-public addresses (labs only)")
	fs.Var(&f.allowNets, "allow-mx-network", "allow MX hosts in this non-public `CIDR` only (repeatable), e.g. 127.0.0.0/8 for a lab on loopback")
	fs.BoolVar(&f.noCatchAll, "no-catch-all", false, "skip the per-domain catch-all probe")
	fs.BoolVar(&f.noStartTLS, "no-starttls", false, "do not upgrade probe sessions with STARTTLS")
}

func (f *verifyFlags) config() (verifier.Config, error) {
	var cfg verifier.Config
	for _, s := range f.dnsServers {
		if !strings.Contains(s, ":") || strings.HasSuffix(s, "]") {
			s += ":53"
		}
		if _, err := netip.ParseAddrPort(s); err != nil {
			return cfg, fmt.Errorf("--dns-server %q: want an IP address and port such as 127.0.0.1:53", s)
		}
	}
	res, err := resolver.New(resolver.Config{Servers: f.dnsServers, Timeout: f.dnsTimeout})
	if err != nil {
		return cfg, err
	}
	for _, n := range f.allowNets {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return cfg, fmt.Errorf("--allow-mx-network %q: %v", n, err)
		}
		cfg.AllowMXNetworks = append(cfg.AllowMXNetworks, p.Masked())
	}
	if f.smtpPort < 1 || f.smtpPort > 65535 {
		return cfg, fmt.Errorf("--smtp-port %d: want 1 to 65535", f.smtpPort)
	}
	if f.concurrency < 1 || f.perHost < 1 {
		return cfg, fmt.Errorf("--concurrency and --per-host must be at least 1")
	}
	cfg.Resolver = res
	cfg.SMTPPort = f.smtpPort
	cfg.HeloName = f.helo
	cfg.MailFrom = f.mailFrom
	cfg.Concurrency = f.concurrency
	cfg.PerHost = f.perHost
	cfg.CommandTimeout = f.timeout
	cfg.ConnectTimeout = f.connectTimeout
	cfg.BannerTimeout = f.bannerTimeout
	cfg.GreylistRetry = f.greylistRetry
	if f.greylistRetry <= 0 {
		cfg.GreylistRetry = -1
	}
	cfg.GreylistBudget = f.greylistBudget
	cfg.AllowPrivateMX = f.allowPrivate
	cfg.SkipCatchAll = f.noCatchAll
	cfg.DisableStartTLS = f.noStartTLS
	return cfg, nil
}

const verifySynopsis = "verify [flags] [FILE|-]\n       touchline verify [flags] --email ADDRESS"

func runVerify(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "verify", verifySynopsis)
	var vf verifyFlags
	vf.register(fs)
	email := fs.String("email", "", "verify this one `address` and print its verdict with evidence")
	column := fs.String("column", "", "email column, by header `name` or 1-based number (default: found by header)")
	format := fs.String("format", "", "output format: csv or jsonl for lists (default csv); text or json for --email (default text)")
	output := fs.String("o", "", "write the cleaned list to `FILE` instead of standard output")
	window := fs.Int("window", verifier.DefaultWindow, "most list rows being verified at once; finished rows waiting for a slower one ahead go to a temporary file (memory stays flat)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}
	if *email != "" && len(pos) > 0 {
		fmt.Fprintln(env.Stderr, "touchline verify: give either --email or a FILE, not both")
		return ExitUsage
	}
	if len(pos) > 1 {
		fmt.Fprintf(env.Stderr, "touchline verify: one input FILE at most, got %d: %s\n", len(pos), strings.Join(pos, " "))
		return ExitUsage
	}
	cfg, err := vf.config()
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline verify: %v\n", err)
		return ExitUsage
	}
	v, err := verifier.New(cfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline verify: %v\n", err)
		return ExitUsage
	}
	defer v.Close()

	if *email != "" {
		return verifyOne(ctx, env, v, *email, *format)
	}
	switch *format {
	case "", "csv", "jsonl":
	default:
		fmt.Fprintf(env.Stderr, "touchline verify: --format %q: want csv or jsonl for a list\n", *format)
		return ExitUsage
	}
	in, name, total := env.Stdin, "standard input", -1
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline verify: %v\n", err)
			return ExitError
		}
		defer f.Close()
		if n, err := listfile.CountRows(f); err == nil {
			total = n
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			fmt.Fprintf(env.Stderr, "touchline verify: %v\n", err)
			return ExitError
		}
		in, name = f, pos[0]
	}
	out := env.Stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline verify: %v\n", err)
			return ExitError
		}
		defer f.Close()
		out = f
	}
	_, code := cleanList(ctx, env, v, cleanOptions{in: in, name: name, total: total, out: out, column: *column, format: *format, window: *window})
	if *output != "" && code == ExitOK {
		fmt.Fprintf(env.Stderr, "Cleaned list written to %s\n", *output)
	}
	return code
}

func verifyOne(ctx context.Context, env *Env, v *verifier.Verifier, email, format string) int {
	vd := v.Verify(ctx, email)
	switch format {
	case "json":
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(vd); err != nil {
			return ExitError
		}
	case "", "text":
		writeVerdictText(env.Stdout, vd)
	default:
		fmt.Fprintf(env.Stderr, "touchline verify: --format %q: want text or json with --email\n", format)
		return ExitUsage
	}
	return ExitOK
}

func writeVerdictText(w io.Writer, vd verifier.Verdict) {
	fmt.Fprintf(w, "%s: %s (%s)\n", vd.Input, vd.Status, vd.Reason)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-12s %s\n", k+":", v)
		}
	}
	row("address", vd.Address)
	row("detail", vd.Detail)
	row("mx tried", strings.Join(vd.MXHosts, ", "))
	if vd.Reply != nil {
		r := vd.Reply.Text
		if vd.Reply.Enhanced != "" {
			r = vd.Reply.Enhanced + " " + r
		}
		row("reply", fmt.Sprintf("%d %s", vd.Reply.Code, strings.ReplaceAll(r, "\n", "\n               ")))
		row("starttls", fmt.Sprint(vd.StartTLS))
	}
	row("catch-all", string(vd.CatchAll))
	var flags []string
	if vd.RoleAccount {
		flags = append(flags, "role account")
	}
	if vd.FreeProvider {
		flags = append(flags, "free provider")
	}
	if vd.Disposable {
		flags = append(flags, "disposable")
	}
	row("flags", strings.Join(flags, ", "))
	row("elapsed", vd.Elapsed.Round(time.Millisecond).String())
}

type cleanOptions struct {
	in     io.Reader
	name   string
	total  int // rows, or -1 when unknown
	out    io.Writer
	column string
	format string
	window int
}

// cleanList verifies every row of a list and writes the cleaned list; the
// summary goes to stderr.
func cleanList(ctx context.Context, env *Env, v *verifier.Verifier, o cleanOptions) (*listfile.Summary, int) {
	r, err := listfile.NewReader(o.in, o.column)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline verify: %s: %v\n", o.name, err)
		return nil, ExitUsage
	}
	var w listfile.Writer
	if o.format == "jsonl" {
		w = listfile.NewJSONLWriter(o.out, r.Header)
	} else {
		w, err = listfile.NewCSVWriter(o.out, r.Header, r.Comma)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline verify: write: %v\n", err)
			return nil, ExitError
		}
	}
	var sum listfile.Summary
	start := time.Now()
	var done atomic.Int64
	stopProgress := func() {}
	if env.StderrIsTerminal {
		stopProgress = progress(env.Stderr, &done, o.total, start)
	}
	// Rows finished behind a slow one (a tarpit, a greylisted address)
	// wait in a temporary file, not in the window.
	err = verifier.VerifyEachSpill(ctx, v, o.window, verifier.Spill[listfile.Row]{Encode: encodeRow, Decode: decodeRow}, r.Rows(),
		func(row listfile.Row) string { return row.Email },
		func(row listfile.Row, vd verifier.Verdict) error {
			if row.Err != nil {
				// The row itself is broken; say so instead of "empty
				// address".
				vd.Status, vd.Reason, vd.Detail = verifier.Undeliverable, verifier.ReasonSyntax, row.Err.Error()
			}
			sum.Add(vd)
			done.Add(1)
			return w.Write(row, vd)
		})
	stopProgress()
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = r.Err()
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline verify: %v\n", err)
		return &sum, ExitError
	}
	if ctx.Err() != nil {
		fmt.Fprintf(env.Stderr, "touchline verify: interrupted after %d rows; the output holds those rows only\n", sum.Total)
	}
	sum.WriteText(env.Stderr, time.Since(start))
	writeThrottled(env.Stderr, v.Throttled())
	return &sum, ExitOK
}

// progress draws a progress line on a terminal until the returned func is
// called.
func progress(w io.Writer, done *atomic.Int64, total int, start time.Time) func() {
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
			}
			n := done.Load()
			el := time.Since(start).Seconds()
			rate := float64(n) / max(el, 0.001)
			if total > 0 {
				eta := "?"
				if rate > 0 {
					eta = (time.Duration(float64(int64(total)-n)/rate) * time.Second).Round(time.Second).String()
				}
				width := 30
				fill := int(float64(width) * float64(n) / float64(total))
				fmt.Fprintf(w, "\r\033[K[%s%s] %d/%d  %.0f/s  ETA %s", strings.Repeat("#", fill), strings.Repeat(".", max(width-fill, 0)), n, total, rate, eta)
			} else {
				fmt.Fprintf(w, "\r\033[K%d rows  %.0f/s", n, rate)
			}
		}
	}()
	return func() { close(stop); <-finished }
}

// writeThrottled names the hosts that made the verifier slow down, so an
// operator knows whom a slow run was polite to.
func writeThrottled(w io.Writer, ts []verifier.Throttle) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintf(w, "Throttled by %d MX hosts (backed off, fewer connections):\n", len(ts))
	for i, t := range ts {
		if i == 10 {
			fmt.Fprintf(w, "  ... and %d more\n", len(ts)-i)
			break
		}
		fmt.Fprintf(w, "  %-32s %3d times (%s), %d connections at the end\n", t.Host, t.Times, strings.Join(t.Why, ", "), t.Sessions)
	}
}

// spilledRow is a listfile.Row as VerifyEachSpill keeps it on disk.
type spilledRow struct {
	Line   int      `json:"l"`
	Fields []string `json:"f"`
	Email  string   `json:"e"`
	Err    string   `json:"x,omitempty"`
}

func encodeRow(r listfile.Row) ([]byte, error) {
	sr := spilledRow{Line: r.Line, Fields: r.Fields, Email: r.Email}
	if r.Err != nil {
		sr.Err = r.Err.Error()
	}
	return json.Marshal(sr)
}

func decodeRow(b []byte) (listfile.Row, error) {
	var sr spilledRow
	if err := json.Unmarshal(b, &sr); err != nil {
		return listfile.Row{}, err
	}
	r := listfile.Row{Line: sr.Line, Fields: sr.Fields, Email: sr.Email}
	if sr.Err != "" {
		r.Err = errors.New(sr.Err)
	}
	return r, nil
}
