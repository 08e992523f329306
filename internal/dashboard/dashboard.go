// Package dashboard is Touchline's web dashboard: server-rendered pages for
// a sales-ops team, behind a sign-in with an API key.
//
// The overview at / shows, for the signed-in workspace only: the funnel of
// each cadence over the last 30 days (enrolled, sent, replied, prospects,
// with bounce and reply rates), the daily bounce and reply rates as charts,
// the health of each sending mailbox (SPF, DKIM and DMARC of its domain,
// hard bounces among its last 100 sends, paused or not), the list-cleaning
// jobs with their progress, and the latest replies with their
// classification. Its numbers come from the store methods the API uses
// (Stats, ListLists, RecentOutcomes, the inbound table), so the dashboard
// and GET /v1/stats, /v1/lists, /v1/mailboxes and /v1/inbound cannot
// disagree.
//
// Everything is in the binary: templates, CSS and a small script (embed),
// charts drawn as inline SVG on the server, no CDN and no JavaScript
// library. The script only refreshes the page's content every few seconds
// and shows times in the browser's zone; without it the page still works
// and reloads itself.
//
// Sessions: POST /login checks the pasted key with store.Authenticate and
// sets an HttpOnly, SameSite=Lax cookie holding the workspace, the key's
// row ID and an expiry, signed with HMAC-SHA256 under Config.SessionKey.
// Nothing is kept on the server; every page checks the signature, the
// expiry and that the key is still live, so revoking a key ends its
// sessions at once.
package dashboard

import (
	"bytes"
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/verifier/resolver"
)

// Config wires the dashboard.
type Config struct {
	Store *store.Store
	// Resolver answers the DNS questions of the SPF, DKIM and DMARC
	// checks of the mailboxes' domains; nil leaves them unchecked.
	Resolver resolver.Resolver
	// SessionKey signs session cookies (HMAC-SHA256); at least 32 bytes.
	// Without one, sign-in is refused with a message saying how to
	// configure it.
	SessionKey []byte
	Logger     *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SessionTTL is how long a sign-in lasts (default 12 h).
	SessionTTL time.Duration
	// Refresh is how often an open page fetches fresh numbers (default
	// 15 s).
	Refresh time.Duration
	// DomainCheckTTL is how long a domain's SPF/DKIM/DMARC audit is reused
	// (default 10 min).
	DomainCheckTTL time.Duration
	// DomainCheckWait is how long a page waits for an audit that is not
	// cached before it shows "checking" and lets it finish in the
	// background (default 3 s).
	DomainCheckWait time.Duration
}

// MinSessionKey is the shortest session key accepted.
const MinSessionKey = 32

type dashboard struct {
	cfg     Config
	log     *slog.Logger
	domains *domainCache
}

// New returns the dashboard's handler, serving GET /, GET and POST /login,
// POST /logout and GET /assets/.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 15 * time.Second
	}
	if cfg.DomainCheckTTL <= 0 {
		cfg.DomainCheckTTL = 10 * time.Minute
	}
	if cfg.DomainCheckWait <= 0 {
		cfg.DomainCheckWait = 3 * time.Second
	}
	if len(cfg.SessionKey) < MinSessionKey {
		if len(cfg.SessionKey) > 0 {
			cfg.Logger.Warn("dashboard: session key shorter than 32 bytes; sign-in is disabled")
		}
		cfg.SessionKey = nil
	}
	d := &dashboard{cfg: cfg, log: cfg.Logger, domains: newDomainCache(cfg.Resolver, cfg.DomainCheckTTL, cfg.Now)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.overview)
	mux.HandleFunc("GET /login", d.loginPage)
	// Sign-in and sign-out change state: refuse them from other sites
	// (Sec-Fetch-Site, else Origin against Host).
	csrf := http.NewCrossOriginProtection()
	mux.Handle("POST /login", csrf.Handler(http.HandlerFunc(d.login)))
	mux.Handle("POST /logout", csrf.Handler(http.HandlerFunc(d.logout)))
	mux.Handle("GET /assets/", assetHandler())
	return securityHeaders(mux)
}

// securityHeaders keeps the pages to their own assets: no inline script,
// no framing, no sniffing.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// overview is the dashboard's one page.
func (d *dashboard) overview(w http.ResponseWriter, r *http.Request) {
	ws, st := d.session(w, r)
	switch st {
	case signedOut:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	case answered:
		return
	}
	v := d.gather(r.Context(), ws)
	if r.Context().Err() != nil {
		return // the browser went away
	}
	d.render(w, http.StatusOK, "overview", v)
}

// gather reads every panel at once; a panel whose query fails shows its
// error and the others still show.
func (d *dashboard) gather(ctx context.Context, ws store.Workspace) *overview {
	now := d.cfg.Now().UTC()
	v := &overview{Title: "Overview", Workspace: ws, Now: now, Refresh: max(int(d.cfg.Refresh/time.Second), 1), GuardWindow: sequencer.GuardWindow}
	// The range of GET /v1/stats without parameters.
	f := store.StatsFilter{From: now.AddDate(0, 0, -30), To: now.Add(24 * time.Hour)}
	var wg sync.WaitGroup
	wg.Go(func() { v.Totals, v.Charts, v.TotalsErr = d.workspaceStats(ctx, ws.ID, f, now) })
	wg.Go(func() { v.Cadences, v.CadencesErr = d.cadenceFunnels(ctx, ws.ID, f) })
	wg.Go(func() { v.Mailboxes, v.MailboxesErr = d.mailboxHealth(ctx, ws.ID) })
	wg.Go(func() { v.Lists, v.ListsMore, v.ListsErr = d.lists(ctx, ws.ID) })
	wg.Go(func() { v.Replies, v.RepliesErr = d.replies(ctx, ws.ID) })
	wg.Go(func() { d.suppressions(ctx, ws.ID, v) })
	wg.Wait()
	for _, e := range []*string{&v.TotalsErr, &v.CadencesErr, &v.MailboxesErr, &v.ListsErr, &v.RepliesErr, &v.SuppressionsErr} {
		if *e != "" && ctx.Err() == nil {
			d.log.Error("dashboard: panel failed", "workspace", ws.ID, "err", *e)
			*e = "could not be read (the error is in the server's log)"
		}
	}
	v.Alerts = alerts(v)
	return v
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// render executes a page into a buffer first, so a template error is a 500
// and not half a page.
func (d *dashboard) render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		d.log.Error("dashboard: render", "page", page, "err", err)
		http.Error(w, "the dashboard failed to render this page; the error is in the server's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pages are the templates, each with the layout.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, p := range []string{"login", "overview"} {
		out[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	return out
}()
