// Package server is Touchline's HTTP API: JSON over net/http, keys in
// "Authorization: Bearer", errors as RFC 9457 problem details with a stable
// code. Every route is listed in routes() and described in openapi.json,
// which a test keeps in step.
package server

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/verifier"
)

// Config wires the server.
type Config struct {
	Store    *store.Store
	Verifier *verifier.Verifier
	River    *river.Client[pgx.Tx]
	Logger   *slog.Logger
	// AdminPassword, when set, lets a browser into the River UI and
	// /metrics with HTTP Basic auth (any user name); operator keys work
	// there too, workspace keys do not.
	AdminPassword string
	// RiverUI serves /riverui/ when set.
	RiverUI http.Handler
	// MaxUploadBytes and MaxRows bound one upload (200 MB, 1,000,000).
	MaxUploadBytes int64
	MaxRows        int
	// VerifyTimeout bounds POST /v1/verify (default 30s).
	VerifyTimeout time.Duration
	// BatchSize is the rows per verification job (default 250).
	BatchSize int
	// Metrics serves Prometheus metrics at /metrics, behind the same
	// operator authentication as the River UI.
	Metrics http.Handler
	// Sequencer runs cadences; nil without TOUCHLINE_SECRET_KEY.
	Sequencer *sequencer.Operator
	// Dashboard, when set, serves the web dashboard: GET /, /login,
	// /logout and /assets/ (internal/dashboard). It is not an API route.
	Dashboard http.Handler
}

// Server is the HTTP API.
type Server struct {
	cfg Config
	log *slog.Logger
}

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 200 << 20
	}
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = 1_000_000
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{cfg: cfg, log: cfg.Logger}
}

type route struct {
	method, path string
	auth         bool
	handle       http.HandlerFunc
}

// routes lists every route; the OpenAPI test walks it.
func (s *Server) routes() []route {
	return append([]route{
		{"GET", "/healthz", false, s.healthz},
		{"GET", "/readyz", false, s.readyz},
		{"GET", "/v1/openapi.json", false, s.openapi},
		{"POST", "/v1/lists", true, s.createList},
		{"GET", "/v1/lists", true, s.listLists},
		{"GET", "/v1/lists/{id}", true, s.getList},
		{"GET", "/v1/lists/{id}/results", true, s.listResults},
		{"POST", "/v1/lists/{id}/cancel", true, s.cancelList},
		{"DELETE", "/v1/lists/{id}", true, s.deleteList},
		{"POST", "/v1/verify", true, s.verify},
		{"GET", "/v1/leads", true, s.listLeads},
		{"GET", "/v1/leads/{id}", true, s.getLead},
		{"DELETE", "/v1/leads/{id}", true, s.deleteLead},
		{"GET", "/v1/api-keys", true, s.listAPIKeys},
		{"DELETE", "/v1/api-keys/{id}", true, s.revokeAPIKey},
	}, slices.Concat(s.sequencerRoutes(), s.suppressionRoutes(), s.listingRoutes())...)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		h := r.handle
		if r.auth {
			h = s.authenticate(h)
		}
		mux.HandleFunc(r.method+" "+r.path, h)
	}
	if s.cfg.RiverUI != nil {
		mux.Handle("/riverui/", s.adminOnly(s.cfg.RiverUI))
	}
	if s.cfg.Metrics != nil {
		mux.Handle("GET /metrics", s.adminOnly(s.cfg.Metrics))
	}
	if s.cfg.Dashboard != nil {
		mux.Handle("GET /{$}", s.cfg.Dashboard)
		mux.Handle("/login", s.cfg.Dashboard)
		mux.Handle("/logout", s.cfg.Dashboard)
		mux.Handle("/assets/", s.cfg.Dashboard)
	}
	// Routes by path alone, to answer 405 with Allow for a known path asked
	// with the wrong method, and a 404 problem for anything else.
	byPath := http.NewServeMux()
	allow := map[string][]string{}
	for _, r := range s.routes() {
		if allow[r.path] == nil {
			byPath.HandleFunc(r.path, func(http.ResponseWriter, *http.Request) {})
		}
		allow[r.path] = append(allow[r.path], r.method)
	}
	return s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		if _, pattern := byPath.Handler(r); pattern != "" {
			w.Header().Set("Allow", strings.Join(allow[pattern], ", "))
			problem(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed",
				fmt.Sprintf("%s does not take %s; it takes %s", r.URL.Path, r.Method, strings.Join(allow[pattern], ", ")))
			return
		}
		problem(w, http.StatusNotFound, "not_found", "No such route", fmt.Sprintf("%s %s is not a Touchline API route; see /v1/openapi.json", r.Method, r.URL.Path))
	}))
}

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

func problem(w http.ResponseWriter, status int, code, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(Problem{Type: "https://touchline.dev/problems/" + code, Title: title, Status: status, Detail: detail, Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

type ctxKey struct{}

func workspaceOf(r *http.Request) store.Workspace {
	w, _ := r.Context().Value(ctxKey{}).(store.Workspace)
	return w
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

func (s *Server) authenticate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="touchline"`)
			problem(w, http.StatusUnauthorized, "unauthorized", "Missing API key", "send the key as \"Authorization: Bearer <key>\"; create one with: touchline apikey create --workspace NAME")
			return
		}
		ws, err := s.cfg.Store.Authenticate(r.Context(), key)
		if errors.Is(err, store.ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="touchline", error="invalid_token"`)
			problem(w, http.StatusUnauthorized, "unauthorized", "Invalid API key", "the key is unknown or revoked")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ws)))
	}
}

// adminOnly guards the operator surfaces (River UI, /metrics), which show
// and change every workspace's jobs: an operator key (touchline apikey
// create --operator) as Bearer, or the admin password over Basic auth for a
// browser. A workspace's key is refused: it is a tenant's, not the
// operator's.
//
// A browser sends Basic credentials by itself, so a page elsewhere could
// make it cancel jobs or pause queues (CSRF). River UI's own front end
// posts text/plain bodies, so a JSON content type cannot be required of
// it; instead every state-changing request must come from this origin
// (Fetch Metadata's Sec-Fetch-Site, else Origin against Host), which
// net/http's CrossOriginProtection checks.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusForbidden, "cross_origin", "Cross-origin request refused",
			"the River UI takes state-changing requests only from its own pages; this one came from another origin")
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if key, ok := bearer(r); ok {
			err := s.cfg.Store.AuthenticateOperator(r.Context(), key)
			if err == nil {
				csrf.Handler(next).ServeHTTP(w, r)
				return
			}
			if !errors.Is(err, store.ErrUnauthorized) {
				s.internal(w, r, err)
				return
			}
			if _, werr := s.cfg.Store.Authenticate(r.Context(), key); werr == nil {
				problem(w, http.StatusForbidden, "operator_only", "Operator key required",
					"the River UI and /metrics show every workspace: a workspace's API key cannot open them; create an operator key with: touchline apikey create --operator")
				return
			}
		}
		if _, pw, ok := r.BasicAuth(); ok && s.cfg.AdminPassword != "" &&
			subtle.ConstantTimeCompare([]byte(pw), []byte(s.cfg.AdminPassword)) == 1 {
			csrf.Handler(next).ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Touchline operator", charset="UTF-8"`)
		problem(w, http.StatusUnauthorized, "unauthorized", "Authentication required",
			"the River UI and /metrics need an operator key (Bearer; touchline apikey create --operator) or the admin password (TOUCHLINE_ADMIN_PASSWORD) with any user name")
	})
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	problem(w, http.StatusInternalServerError, "internal", "Internal error", "the server failed; the error is in its log")
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		next.ServeHTTP(sw, r)
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds())
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		problem(w, http.StatusServiceUnavailable, "database_unreachable", "Database unreachable", err.Error())
		return
	}
	pending, err := s.cfg.Store.Pending(ctx)
	if err != nil {
		problem(w, http.StatusServiceUnavailable, "database_unreachable", "Database check failed", err.Error())
		return
	}
	if len(pending) > 0 {
		problem(w, http.StatusServiceUnavailable, "migrations_pending", "Migrations pending",
			fmt.Sprintf("%d migrations are not applied (%s); run: touchline migrate", len(pending), strings.Join(pending, ", ")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiDoc)
}
