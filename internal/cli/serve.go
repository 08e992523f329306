package cli

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/touchline/touchline/internal/dashboard"
	"github.com/touchline/touchline/internal/demo"
	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/inbound/senderauth"
	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/metrics"
	"github.com/touchline/touchline/internal/netpolicy"
	"github.com/touchline/touchline/internal/rsasigner"
	"github.com/touchline/touchline/internal/secret"
	"github.com/touchline/touchline/internal/server"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/sequencer/message"
	"github.com/touchline/touchline/verifier"
	"github.com/touchline/touchline/verifier/resolver"
)

func init() {
	register("migrate", "apply database migrations (Touchline's and River's)", runMigrate)
	register("serve", "run the HTTP API and list-cleaning workers", runServe)
	register("worker", "run list-cleaning workers only (scale them out with more processes)", runWorker)
}

// envDefaults lets every flag be set as TOUCHLINE_<FLAG_NAME> (dashes as
// underscores); a flag on the command line wins over the environment.
func envDefaults(env *Env, fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "TOUCHLINE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := env.Getenv(name); v != "" && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, e)
			}
		}
	})
	return err
}

func databaseFlag(env *Env, fs *flag.FlagSet) *string {
	def := env.Getenv("DATABASE_URL")
	return fs.String("database-url", def, "PostgreSQL `URL` (default $DATABASE_URL)")
}

func openStore(ctx context.Context, env *Env, cmd, url string) (*store.Store, int) {
	if url == "" {
		fmt.Fprintf(env.Stderr, "touchline %s: no database: set DATABASE_URL or pass --database-url (make db starts a local one)\n", cmd)
		return nil, ExitUsage
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline %s: %v\n", cmd, err)
		return nil, ExitError
	}
	return st, ExitOK
}

func runMigrate(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "migrate", "migrate [--database-url URL]")
	url := databaseFlag(env, fs)
	if err := envDefaults(env, fs); err != nil {
		fmt.Fprintf(env.Stderr, "touchline migrate: %v\n", err)
		return ExitUsage
	}
	if _, err := parseArgs(fs, args); err != nil {
		return flagError(err)
	}
	st, code := openStore(ctx, env, "migrate", *url)
	if st == nil {
		return code
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	for _, a := range applied {
		fmt.Fprintf(env.Stderr, "applied %s\n", a)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline migrate: %v\n", err)
		return ExitError
	}
	if len(applied) == 0 {
		fmt.Fprintln(env.Stderr, "database is up to date")
	}
	return ExitOK
}

// processFlags configure serve and worker.
type processFlags struct {
	database        *string
	listen          string
	workers         int
	noWorkers       bool
	adminPassword   string
	jobTimeout      time.Duration
	touchTimeout    time.Duration
	rescueAfter     time.Duration
	cacheAge        time.Duration
	batchSize       int
	maxUploadMB     int
	maxRows         int
	verifyTimeout   time.Duration
	shutdownTimeout time.Duration
	sim             bool
	demoUpload      string
	logLevel        string
	secretKey       string
	publicURL       string
	bounceDomain    string
	senders         int
	imapPoll        time.Duration
	retention       time.Duration
	smtpInsecure    bool
	inboundListen   string
	inboundTLSCert  string
	inboundTLSKey   string
	trackingDomains listFlag
	allowNetworks   listFlag
	verify          verifyFlags
}

func (p *processFlags) register(env *Env, fs *flag.FlagSet, api bool) {
	p.database = databaseFlag(env, fs)
	if api {
		fs.StringVar(&p.listen, "listen", ":8080", "HTTP listen `address`")
		fs.BoolVar(&p.noWorkers, "no-workers", false, "run the API only, and the workers as separate 'touchline worker' processes")
		fs.IntVar(&p.batchSize, "batch-size", 250, "rows per verification job, grouped by domain")
		fs.IntVar(&p.maxUploadMB, "max-upload-mb", 200, "largest upload, in MB")
		fs.IntVar(&p.maxRows, "max-rows", 1_000_000, "most rows in one upload")
		fs.DurationVar(&p.verifyTimeout, "verify-timeout", 30*time.Second, "time limit of POST /v1/verify")
		fs.StringVar(&p.adminPassword, "admin-password", "", "password for the River UI at /riverui/ and /metrics in a browser (any user name); operator keys (apikey create --operator) work too, workspace keys do not")
		fs.StringVar(&p.inboundListen, "inbound-listen", "", "`address` of the inbound SMTP server for bounces and replies (e.g. :25); off when empty")
		fs.StringVar(&p.inboundTLSCert, "inbound-tls-cert", "", "PEM certificate `file` (chain first) the inbound SMTP server offers with STARTTLS; with --inbound-tls-key")
		fs.StringVar(&p.inboundTLSKey, "inbound-tls-key", "", "PEM private key `file` of --inbound-tls-cert")
		fs.Var(&p.trackingDomains, "tracking-domain", "recipient `domain` the inbound SMTP server accepts (repeatable; default: --bounce-domain)")
		fs.StringVar(&p.demoUpload, "demo-upload", "", "after start, create a demo workspace and key and upload this CSV `file` (used by make run)")
	}
	fs.IntVar(&p.workers, "workers", 8, "verification batches worked at once by this process")
	fs.DurationVar(&p.jobTimeout, "job-timeout", time.Minute, "longest one batch may run (greylisted rows do not wait in it: the batch snoozes for --greylist-retry)")
	fs.DurationVar(&p.touchTimeout, "touch-timeout", time.Minute, "longest one touch of a cadence may run: a verification and an SMTP submission (less than --rescue-after)")
	fs.DurationVar(&p.rescueAfter, "rescue-after", 65*time.Second, "when a batch whose process died is retried (more than --job-timeout; River looks every 30 s, so a list finishes within 2 minutes of a restart)")
	fs.DurationVar(&p.cacheAge, "cache-age", 30*24*time.Hour, "how long a verdict is reused for the same address")
	fs.DurationVar(&p.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long running batches may finish before they are released for retry")
	fs.BoolVar(&p.sim, "sim", false, "use the built-in simulated mail world as the Internet (demos and tests; never in production)")
	fs.StringVar(&p.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&p.secretKey, "secret-key", "", "32-byte key (base64 or hex; openssl rand -base64 32) sealing mailbox secrets and signing links; required for cadences")
	fs.StringVar(&p.publicURL, "public-url", "", "public base `URL` of this server, for unsubscribe links in emails")
	fs.StringVar(&p.bounceDomain, "bounce-domain", "", "`domain` whose MX is Touchline's inbound SMTP, for VERP return paths")
	fs.IntVar(&p.senders, "senders", 4, "touches sent at once by this process (8-16 for bulk volume: BenchmarkSend gains nothing beyond on 2 cores)")
	fs.DurationVar(&p.retention, "inbound-retention", 90*24*time.Hour, "how long raw inbound messages (bounces, replies) are kept for audit; their classification stays; 0 keeps them forever")
	fs.DurationVar(&p.imapPoll, "imap-poll", time.Minute, "how often the reps' mailboxes are polled over IMAP for replies (10s with --sim)")
	fs.Var(&p.allowNetworks, "allow-network", "let Touchline connect for tenants (webhooks, SMTP submission, IMAP, MX probes) to this non-public `CIDR` too (repeatable or comma-separated), e.g. 127.0.0.0/8 for a lab; --sim allows loopback")
	fs.BoolVar(&p.smtpInsecure, "smtp-insecure-skip-verify", false, "accept any TLS certificate from submission servers (labs and the simulated world only)")
	p.verify.register(fs)
}

func (p *processFlags) logger(env *Env) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(p.logLevel))
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// process is what serve and worker share: store, verifier, River.
type process struct {
	engine   *sequencer.Engine
	st       *store.Store
	v        *verifier.Verifier
	river    *river.Client[pgx.Tx]
	world    *mailsim.World
	sim      *simMail // serve --sim with cadences: the demo team's domain and the recipients who answer
	resolver resolver.Resolver
	log      *slog.Logger
	closer   []func()
	imapPoll time.Duration // how often the reps' mailboxes are read
}

func (pr *process) close() {
	for i := len(pr.closer) - 1; i >= 0; i-- {
		pr.closer[i]()
	}
}

func startProcess(ctx context.Context, env *Env, cmd string, p *processFlags, workers int) (*process, int) {
	if p.retention < 0 {
		fmt.Fprintf(env.Stderr, "touchline %s: --inbound-retention %s: want a duration of 0 or more (0 keeps raw messages forever)\n", cmd, p.retention)
		return nil, ExitUsage
	}
	if p.imapPoll < time.Second {
		fmt.Fprintf(env.Stderr, "touchline %s: --imap-poll %s: want 1s or more (the reps' mailboxes are polled that often)\n", cmd, p.imapPoll)
		return nil, ExitUsage
	}
	if p.rescueAfter <= p.jobTimeout {
		fmt.Fprintf(env.Stderr, "touchline %s: --rescue-after (%s) must be longer than --job-timeout (%s): a batch still running would be started twice\n", cmd, p.rescueAfter, p.jobTimeout)
		return nil, ExitUsage
	}
	if p.touchTimeout <= 0 || p.rescueAfter <= p.touchTimeout {
		// A touch job still in SMTP when River rescues it would be run
		// again, and call its own touch uncertain.
		fmt.Fprintf(env.Stderr, "touchline %s: --touch-timeout %s: want more than 0 and less than --rescue-after (%s)\n", cmd, p.touchTimeout, p.rescueAfter)
		return nil, ExitUsage
	}
	if p.publicURL != "" {
		// Checked here, not at the first send: RFC 8058 one-click
		// unsubscribe needs an https URL (http only on loopback).
		u, err := url.Parse(p.publicURL)
		if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && message.IsLoopbackHost(u.Hostname())) {
			fmt.Fprintf(env.Stderr, "touchline %s: --public-url %q: want https://HOST (unsubscribe links must be https; http only on loopback)\n", cmd, p.publicURL)
			return nil, ExitUsage
		}
	}
	pr := &process{log: p.logger(env)}
	st, code := openStore(ctx, env, cmd, *p.database)
	if st == nil {
		return nil, code
	}
	pr.st = st
	pr.closer = append(pr.closer, st.Close)
	pending, err := st.Pending(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline %s: %v\n", cmd, err)
		pr.close()
		return nil, ExitError
	}
	if len(pending) > 0 {
		fmt.Fprintf(env.Stderr, "touchline %s: %d database migrations are pending (%s).\nApply them first with: touchline migrate\n", cmd, len(pending), strings.Join(pending, ", "))
		pr.close()
		return nil, ExitError
	}
	if p.sim {
		w, err := demo.World(mailsim.Options{})
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline %s: simulated world: %v\n", cmd, err)
			pr.close()
			return nil, ExitError
		}
		pr.world = w
		pr.closer = append(pr.closer, func() { w.Close() })
		p.verify.dnsServers = listFlag{w.DNSAddr()}
		p.verify.smtpPort = w.SMTPPort()
		// The simulated world is on loopback: allowed by name, for MX
		// probes, submission, IMAP and webhooks alike.
		p.allowNetworks = append(p.allowNetworks, "127.0.0.0/8", "::1/128")
		if p.verify.helo == "" {
			p.verify.helo = "verifier.touchline.test"
		}
		p.verify.bannerTimeout = min(p.verify.bannerTimeout, 2*time.Second)
		p.verify.greylistRetry = demo.GreylistDelay + 500*time.Millisecond
		p.verify.greylistBudget = 4 * demo.GreylistDelay
		// The demo's bounces and replies come back to Touchline's own
		// inbound server (see demoMail), and quickly.
		if p.bounceDomain == "" {
			p.bounceDomain = "bounces." + demo.SenderDomain
		}
		p.imapPoll = min(p.imapPoll, 10*time.Second)
		pr.log.Warn("using the simulated mail world: verdicts are not about the real Internet", "dns", w.DNSAddr())
	}
	allowed, err := netpolicy.ParseNetworks(p.allowNetworks)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline %s: --allow-network: %v\n", cmd, err)
		pr.close()
		return nil, ExitUsage
	}
	outbound := netpolicy.New(allowed...)
	for _, n := range allowed {
		p.verify.allowNets = append(p.verify.allowNets, n.String())
	}
	vcfg, err := p.verify.config()
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline %s: %v\n", cmd, err)
		pr.close()
		return nil, ExitUsage
	}
	vcfg.DomainCache = st
	// Waiting is not working: the verifier gives greylisted addresses
	// back at once and their batch snoozes until the retry is due.
	var retry, retryBudget time.Duration
	if vcfg.GreylistRetry > 0 {
		retry, retryBudget = vcfg.GreylistRetry, vcfg.GreylistBudget
	}
	vcfg.GreylistRetry = -1
	pr.resolver = vcfg.Resolver
	v, err := verifier.New(vcfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline %s: %v\n", cmd, err)
		pr.close()
		return nil, ExitUsage
	}
	pr.v = v
	pr.closer = append(pr.closer, func() { v.Close() })
	worker := &jobs.VerifyBatchWorker{Store: st, Verifier: v, Logger: pr.log, CacheAge: p.cacheAge, JobTimeout: p.jobTimeout,
		Retry: retry, RetryBudget: retryBudget}
	jcfg := jobs.Config{Workers: workers, Worker: worker, RescueAfter: p.rescueAfter, Logger: slog.New(routineToDebug{pr.log.Handler()})}
	if p.secretKey == "" && p.sim {
		// The simulated world is a demo: a throwaway key is fine there.
		k := make([]byte, 32)
		crand.Read(k)
		p.secretKey = base64.StdEncoding.EncodeToString(k)
		pr.log.Warn("no TOUCHLINE_SECRET_KEY: using a throwaway key for the simulated world")
	}
	if p.secretKey != "" {
		key, err := secret.ParseKey(p.secretKey)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline %s: --secret-key / TOUCHLINE_SECRET_KEY: %v\n", cmd, err)
			pr.close()
			return nil, ExitUsage
		}
		box, err := secret.NewBox(key)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline %s: %v\n", cmd, err)
			pr.close()
			return nil, ExitUsage
		}
		sender := &sequencer.SMTPSender{HeloName: vcfg.HeloName, InsecureSkipVerify: p.smtpInsecure || p.sim, Policy: outbound}
		if pr.world != nil {
			sender.Dialer = &simDialer{world: pr.world}
		}
		pr.engine = &sequencer.Engine{Store: st, Verifier: v, Secrets: box, Logger: pr.log,
			VERPKey: secret.Derive(key, "verp"), UnsubscribeKey: secret.Derive(key, "unsubscribe"),
			BounceDomain: p.bounceDomain, PublicURL: p.publicURL, JobTimeout: p.touchTimeout, Outbound: outbound,
			Sender: sender}
		jcfg.Queues = map[string]int{sequencer.QueueSend: max(p.senders, 1)}
		jcfg.Register = func(w *river.Workers) error {
			if err := river.AddWorkerSafely(w, &sequencer.TouchWorker{Engine: pr.engine}); err != nil {
				return err
			}
			if err := river.AddWorkerSafely(w, &sequencer.TaskDeadlineWorker{Engine: pr.engine}); err != nil {
				return err
			}
			if err := river.AddWorkerSafely(w, &sequencer.ResumeWorker{Engine: pr.engine}); err != nil {
				return err
			}
			inbox := &sequencer.Inbox{Engine: pr.engine, Auth: &senderauth.Checker{Resolver: pr.resolver}}
			if err := river.AddWorkerSafely(w, &sequencer.PollIMAPWorker{Inbox: inbox, InsecureSkipVerify: p.smtpInsecure || p.sim}); err != nil {
				return err
			}
			if err := river.AddWorkerSafely(w, &sequencer.WebhookWorker{Engine: pr.engine}); err != nil {
				return err
			}
			if err := river.AddWorkerSafely(w, &sequencer.PruneInboundWorker{Store: st, Retention: p.retention}); err != nil {
				return err
			}
			return river.AddWorkerSafely(w, &sequencer.PollAllWorker{Store: st})
		}
		// Replies in the reps' mailboxes are read every --imap-poll.
		pr.imapPoll = p.imapPoll
		jcfg.Periodic = []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(pr.imapPoll),
			func() (river.JobArgs, *river.InsertOpts) {
				return sequencer.PollAllArgs{}, &river.InsertOpts{Queue: sequencer.QueueSend}
			},
			&river.PeriodicJobOpts{RunOnStart: true}),
			// Raw inbound messages past --inbound-retention are dropped hourly.
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
				func() (river.JobArgs, *river.InsertOpts) {
					return sequencer.PruneInboundArgs{}, &river.InsertOpts{Queue: sequencer.QueueSend}
				},
				&river.PeriodicJobOpts{RunOnStart: true})}
	} else {
		pr.log.Warn("no TOUCHLINE_SECRET_KEY: list cleaning works, cadences are disabled")
	}
	rc, err := jobs.NewClient(st, jcfg)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline %s: %v\n", cmd, err)
		pr.close()
		return nil, ExitUsage
	}
	pr.river = rc
	if pr.engine != nil {
		st.OnListDone = pr.engine.ListCompleted(rc)
	}
	return pr, ExitOK
}

// runRiver starts River's workers, and on ctx's end stops taking work,
// lets running batches finish for the shutdown timeout, then cancels them
// (they are retried by another process).
func (pr *process) runRiver(ctx context.Context, timeout time.Duration) (stop func()) {
	if err := pr.river.Start(context.WithoutCancel(ctx)); err != nil {
		pr.log.Error("river start", "err", err)
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := pr.river.Stop(sctx); err != nil {
			pr.log.Warn("batches did not finish in time; releasing them for retry", "err", err)
			cctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel2()
			pr.river.StopAndCancel(cctx)
		}
	}
}

func runWorker(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "worker", "worker [flags]")
	var p processFlags
	p.register(env, fs, false)
	if err := envDefaults(env, fs); err != nil {
		fmt.Fprintf(env.Stderr, "touchline worker: %v\n", err)
		return ExitUsage
	}
	if _, err := parseArgs(fs, args); err != nil {
		return flagError(err)
	}
	if p.workers < 1 {
		fmt.Fprintln(env.Stderr, "touchline worker: --workers must be at least 1")
		return ExitUsage
	}
	pr, code := startProcess(ctx, env, "worker", &p, p.workers)
	if pr == nil {
		return code
	}
	defer pr.close()
	stop := pr.runRiver(ctx, p.shutdownTimeout)
	pr.log.Info("worker started", "batches_at_once", p.workers, "dkim_rsa", rsasigner.Backend())
	<-ctx.Done()
	pr.log.Info("shutting down: finishing running batches", "timeout", p.shutdownTimeout)
	stop()
	return ExitOK
}

func runServe(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "serve", "serve [flags]")
	var p processFlags
	p.register(env, fs, true)
	if err := envDefaults(env, fs); err != nil {
		fmt.Fprintf(env.Stderr, "touchline serve: %v\n", err)
		return ExitUsage
	}
	if _, err := parseArgs(fs, args); err != nil {
		return flagError(err)
	}
	workers := p.workers
	if p.noWorkers {
		workers = 0
	}
	pr, code := startProcess(ctx, env, "serve", &p, workers)
	if pr == nil {
		return code
	}
	defer pr.close()

	ui, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(pr.river, nil), Prefix: "/riverui", Logger: pr.log})
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline serve: River UI: %v\n", err)
		return ExitError
	}
	if err := ui.Start(ctx); err != nil {
		fmt.Fprintf(env.Stderr, "touchline serve: River UI: %v\n", err)
		return ExitError
	}
	var op *sequencer.Operator
	if pr.engine != nil {
		op = &sequencer.Operator{Engine: pr.engine, River: pr.river, Resolver: pr.resolver}
	}
	dash := dashboard.New(dashboard.Config{Store: pr.st, Resolver: pr.resolver, SessionKey: dashboardKey(p.secretKey, pr.log), Logger: pr.log})
	srv := server.New(server.Config{Store: pr.st, Verifier: pr.v, River: pr.river, Logger: pr.log, Sequencer: op,
		AdminPassword: p.adminPassword, RiverUI: ui, BatchSize: p.batchSize,
		MaxUploadBytes: int64(p.maxUploadMB) << 20, MaxRows: p.maxRows, VerifyTimeout: p.verifyTimeout,
		Metrics: metrics.Handler(metrics.Registry(pr.st.Pool())), Dashboard: dash})
	ln, err := net.Listen("tcp", p.listen)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline serve: %v\n", err)
		return ExitError
	}
	if p.inboundTLSCert != "" || p.inboundTLSKey != "" {
		if p.inboundListen == "" {
			fmt.Fprintln(env.Stderr, "touchline serve: --inbound-tls-cert/--inbound-tls-key need --inbound-listen (the server they are for)")
			return ExitUsage
		}
	}
	inboundAddr := ""
	if p.inboundListen != "" {
		if pr.engine == nil {
			fmt.Fprintln(env.Stderr, "touchline serve: --inbound-listen needs TOUCHLINE_SECRET_KEY (VERP return paths are signed with it)")
			return ExitUsage
		}
		domains := p.trackingDomains
		if len(domains) == 0 && p.bounceDomain != "" {
			domains = listFlag{p.bounceDomain}
		}
		if len(domains) == 0 {
			fmt.Fprintln(env.Stderr, "touchline serve: --inbound-listen needs --tracking-domain or --bounce-domain: an inbound server must not accept mail for any domain")
			return ExitUsage
		}
		tlsCfg, err := inboundTLS(p.inboundTLSCert, p.inboundTLSKey)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline serve: %v\n", err)
			return ExitUsage
		}
		iln, err := net.Listen("tcp", p.inboundListen)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline serve: inbound SMTP: %v\n", err)
			return ExitError
		}
		if tlsCfg == nil {
			pr.log.Warn("inbound SMTP without STARTTLS: pass --inbound-tls-cert and --inbound-tls-key; senders that require TLS will not deliver bounces and replies")
		}
		isrv := inbound.NewSMTPServer(inbound.SMTPConfig{Domains: domains, Hostname: p.verify.helo, Logger: pr.log, TLSConfig: tlsCfg},
			&sequencer.Inbox{Engine: pr.engine, River: pr.river, Auth: &senderauth.Checker{Resolver: pr.resolver}})
		go isrv.Serve(iln)
		defer isrv.Close()
		inboundAddr = iln.Addr().String()
		pr.log.Info("inbound SMTP", "addr", inboundAddr, "domains", strings.Join(domains, ","), "starttls", tlsCfg != nil)
	}
	base := "http://" + hostPort(ln.Addr())
	if pr.engine != nil && pr.engine.PublicURL == "" {
		if pr.world != nil {
			// The simulated world's recipients click here: one-click
			// unsubscribe (RFC 8058) needs an https or http URL, and the
			// demo's is this server.
			pr.engine.PublicURL = base
			pr.log.Info("unsubscribe links point at this server (--public-url, by default with --sim)", "public_url", base)
		} else {
			pr.log.Warn("no --public-url: messages carry only a mailto: unsubscribe; Gmail, Yahoo and Microsoft want RFC 8058 one-click for bulk mail (set --public-url to where recipients reach this server)")
		}
	}
	handler := srv.Handler()
	if pr.world != nil && pr.engine != nil {
		sm, err := startSimMail(ctx, pr, inboundAddr)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline serve: simulated world: %v\n", err)
			return ExitError
		}
		pr.sim = sm
		mux := http.NewServeMux()
		mux.Handle("POST /sim/dns", simDNSHandler(pr.st, sm))
		mux.Handle("/", handler)
		handler = mux
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	stopRiver := func() {}
	if workers > 0 {
		stopRiver = pr.runRiver(ctx, p.shutdownTimeout)
	}
	pr.log.Info("serving", "url", base, "dashboard", base+"/", "workers", workers, "riverui", base+"/riverui/",
		"dkim_rsa", rsasigner.Backend())
	if p.demoUpload != "" {
		if err := demoUpload(ctx, env, pr, op, base, p.demoUpload); err != nil {
			fmt.Fprintf(env.Stderr, "touchline serve: demo upload: %v\n", err)
		}
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(env.Stderr, "touchline serve: %v\n", err)
			stopRiver()
			return ExitError
		}
	}
	pr.log.Info("shutting down: no new requests, finishing running batches", "timeout", p.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), p.shutdownTimeout)
	defer cancel()
	hs.Shutdown(sctx)
	stopRiver()
	return ExitOK
}

// dashboardKey is the key that signs dashboard sessions: derived from the
// secret key, so sessions survive a restart and work on every serve process
// behind a load balancer. Without a secret key (list cleaning only) it is
// random for this process: signing in works, and sessions end when the
// process restarts.
func dashboardKey(secretKey string, log *slog.Logger) []byte {
	if secretKey != "" {
		if key, err := secret.ParseKey(secretKey); err == nil {
			return secret.Derive(key, "dashboard-session")
		}
	}
	k := make([]byte, 32)
	crand.Read(k)
	log.Warn("no TOUCHLINE_SECRET_KEY: dashboard sessions are signed with a key of this process only; they end when it restarts and do not carry over to other serve processes")
	return k
}

func hostPort(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if ta.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", ta.Port)
	}
	return ta.String()
}

// demoUpload is make run's tour: a workspace, a key, the sample list
// uploaded through the API, and the commands to look at it.
func demoUpload(ctx context.Context, env *Env, pr *process, op *sequencer.Operator, base, file string) error {
	st := pr.st
	// A workspace per run: the simulated world and its throwaway secret key
	// live only as long as this process.
	ws, err := st.EnsureWorkspace(ctx, "demo-"+time.Now().UTC().Format("20060102-150405"))
	if err != nil {
		return err
	}
	key, err := st.CreateAPIKey(ctx, ws.ID, "make run")
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/lists?name=prospects", f)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var l struct {
		ID    int64 `json:"id"`
		Total int   `json:"total"`
	}
	if err := decodeJSON(resp, &l); err != nil {
		return err
	}
	w := env.Stdout
	auth := "-H \"Authorization: Bearer $KEY\""
	fmt.Fprintf(w, "\nTouchline is running at %s (simulated mail world; Ctrl-C stops it)\n\n", base)
	fmt.Fprintf(w, "  Open %s/ in a browser and sign in with the API key:\n", base)
	fmt.Fprintf(w, "  API key (workspace %q): %s\n\n", ws.Name, key)
	fmt.Fprintf(w, "  Happening now: %s uploaded as list %d (%d rows), verified by River jobs; then a demo\n", file, l.ID, l.Total)
	fmt.Fprintf(w, "  cadence to its deliverable leads, whose simulated recipients answer within a minute.\n")
	if pr.engine != nil {
		fmt.Fprintf(w, "  Unsubscribe links in the emails point here: %s/u/...\n", pr.engine.PublicURL)
	}
	if pr.sim != nil {
		fmt.Fprintf(w, "  Bounces and replies come back to inbound SMTP at %s (STARTTLS) for %s.\n", pr.sim.mail.inbound, pr.engine.BounceDomain)
	}
	fmt.Fprintf(w, "\n  Try, in another terminal (README.md \"A first session\" goes on to your own cadence):\n")
	fmt.Fprintf(w, "    KEY=%s\n", key)
	fmt.Fprintf(w, "    curl -s %s %s/v1/lists/%d                          # progress and counts\n", auth, base, l.ID)
	fmt.Fprintf(w, "    curl -s %s '%s/v1/lists/%d/results?format=csv' -o cleaned.csv\n", auth, base, l.ID)
	fmt.Fprintf(w, "    curl -s %s -d '{\"email\":\"info@northwind.test\"}' %s/v1/verify\n", auth, base)
	fmt.Fprintf(w, "    curl -s %s '%s/v1/leads?stage=prospect'                # leads who replied\n", auth, base)
	fmt.Fprintf(w, "  API document: %s/v1/openapi.json\n", base)
	if opKey, err := st.CreateOperatorKey(ctx, "make run"); err == nil {
		// The River UI shows every workspace's jobs: a workspace key does
		// not open it, an operator key does.
		fmt.Fprintf(w, "  River UI:   %s/riverui/ (operator key %s as a Bearer token, or start with --admin-password for a browser)\n\n", base, opKey)
	}
	go func() {
		if reportDemo(ctx, env, st, ws.ID, l.ID, file) && op != nil && pr.sim != nil {
			if err := demoCadence(ctx, env, pr, op, ws.ID, key, base); err != nil {
				fmt.Fprintf(env.Stderr, "touchline serve: demo cadence: %v\n", err)
			}
		}
	}()
	return nil
}

// demoCadence launches a short cadence from the demo team's own domain to
// the list's deliverable leads, through the simulated world.
func demoCadence(ctx context.Context, env *Env, pr *process, op *sequencer.Operator, ws int64, apiKey, base string) error {
	k, err := dkimkey.Generate(dkimkey.Ed25519)
	if err != nil {
		return err
	}
	zone, err := dkimkey.ZoneLine("demo", demo.SenderDomain, k.Public())
	if err != nil {
		return err
	}
	if _, err := pr.sim.publish(zone); err != nil {
		return err
	}
	pemKey, _ := dkimkey.MarshalPrivateKey(k)
	// The way back: bounces and forwarded replies to the inbound SMTP
	// server, replies into Ana's mailbox, read over IMAP.
	dm := pr.sim.mail
	from := "ana@" + demo.SenderDomain
	imapPassword := "demo-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	dm.store.AddUser(from, imapPassword)
	imapHost, imapPort := dm.store.Addr()
	zero := 0
	m, err := op.CreateMailbox(ctx, ws, sequencer.MailboxInput{FromAddress: from, FromName: "Ana Ruiz",
		SMTPHost: demo.SubmissionHost, SMTPPort: 587, SMTPSecurity: "starttls", DailyCap: 1000,
		MinSpacingSeconds: &zero, JitterSeconds: &zero, DKIMSelector: "demo", DKIMPrivateKey: string(pemKey),
		IMAPHost: imapHost, IMAPPort: imapPort, IMAPSecurity: "none", IMAPUsername: from, IMAPPassword: imapPassword})
	if err != nil {
		return err
	}
	c, warnings, err := op.CreateCadence(ctx, ws, sequencer.Spec{
		Name:       "Demo: SDR hiring",
		Window:     sequencer.WindowSpec{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Start: "00:00", End: "24:00"},
		MailboxIDs: []int64{m.ID},
		Steps: []sequencer.Step{
			{Channel: "email", Delay: "0", Subject: "Quick question, {{first_name}}", Body: "Hi {{first_name}},\n\nIs {{company|your team}} hiring SDRs this quarter?\n\n{{sender_first_name}}"},
			{Channel: "email", Delay: "20s", Thread: true, Body: "Following up on this, {{first_name}}."},
			{Channel: "call", Delay: "20s", Title: "Call {{first_name}} {{last_name}}"},
			{Channel: "email", Delay: "20s", Subject: "An idea for {{company|you}}", Body: "{{first_name}}, one idea: shorter cadences."},
		}})
	if err != nil {
		return err
	}
	if _, err := op.Launch(ctx, ws, c.ID, false); err != nil {
		return err
	}
	leads, _, err := pr.st.ListLeads(ctx, ws, store.LeadFilter{Status: "deliverable", Limit: 500})
	if err != nil {
		return err
	}
	req := sequencer.EnrollRequest{Start: "now"}
	for _, l := range leads {
		req.LeadIDs = append(req.LeadIDs, l.ID)
	}
	out, err := op.Enroll(ctx, ws, c.ID, req)
	if err != nil {
		return err
	}
	enrolled := 0
	var first int64
	for _, o := range out {
		if o.Outcome == "enrolled" {
			enrolled++
			if first == 0 {
				first = o.EnrollmentID
			}
		}
	}
	w := env.Stdout
	fmt.Fprintf(w, "\nLaunched cadence %d %q from ana@%s (SPF, DKIM and DMARC pass the preflight; %d lint warnings):\n", c.ID, c.Name, demo.SenderDomain, len(warnings))
	fmt.Fprintf(w, "  %d deliverable leads enrolled; 3 emails and a call task each, 20 s apart, DKIM-signed, through the simulated world.\n", enrolled)
	fmt.Fprintf(w, "  One enrollment: curl -s -H 'Authorization: Bearer %s' %s/v1/enrollments/%d\n", apiKey, base, first)
	fmt.Fprintf(w, "  Call tasks:     curl -s -H 'Authorization: Bearer %s' %s/v1/tasks\n", apiKey, base)
	fmt.Fprintf(w, "  The simulated recipients answer within a minute: replies land in Ana's mailbox (IMAP %s, polled every %s)\n", net.JoinHostPort(imapHost, strconv.Itoa(imapPort)), pr.imapPoll)
	fmt.Fprintf(w, "  or come to the tracking address, bounces to the return path (inbound SMTP %s); watch the dashboard,\n", dm.inbound)
	fmt.Fprintf(w, "  or: curl -s -H 'Authorization: Bearer %s' %s/v1/inbound\n", apiKey, base)
	go func() {
		for _, wait := range []time.Duration{5 * time.Second, 30 * time.Second} {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			fmt.Fprintf(w, "Simulated world: %d emails delivered so far.\n", len(pr.world.Messages()))
		}
	}()
	return nil
}

// reportDemo waits for the demo list and scores it against the known
// answers beside the sample file, if there are any.
func reportDemo(ctx context.Context, env *Env, st *store.Store, ws, id int64, file string) bool {
	deadline := time.Now().Add(2 * time.Minute)
	var l store.List
	for {
		var err error
		if l, err = st.GetList(ctx, ws, id); err != nil || time.Now().After(deadline) {
			return false
		}
		if l.Status == "done" {
			break
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
	c := l.Counts
	fmt.Fprintf(env.Stdout, "List %d done in %s: %d deliverable, %d undeliverable, %d risky, %d unknown.\n",
		l.ID, l.FinishedAt.Sub(l.CreatedAt).Round(10*time.Millisecond), c.Deliverable, c.Undeliverable, c.Risky, c.Unknown)
	answers, err := readCSV(strings.TrimSuffix(file, ".csv") + ".answers.csv")
	if err != nil || len(answers) < 2 {
		return true
	}
	i, match := 1, 0
	st.Results(ctx, ws, id, "", func(r store.ResultRow) error {
		if i < len(answers) && r.Verdict != nil && string(r.Verdict.Status) == answers[i][2] && string(r.Verdict.Reason) == answers[i][3] {
			match++
		}
		i++
		return nil
	})
	fmt.Fprintf(env.Stdout, "Verdicts matching the known answers: %d of %d.\n", match, len(answers)-1)
	return true
}

func decodeJSON(resp *http.Response, v any) error {
	if resp.StatusCode/100 != 2 {
		var p server.Problem
		if json.NewDecoder(resp.Body).Decode(&p) == nil && p.Detail != "" {
			return fmt.Errorf("%s: %s", resp.Status, p.Detail)
		}
		return fmt.Errorf("%s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
