package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/touchline/touchline/internal/store"
)

// CookieName is the session cookie.
const CookieName = "touchline_session"

// sessionDomain separates this HMAC from any other made with the same key.
const sessionDomain = "touchline dashboard session v1\x00"

// Session errors.
var (
	ErrBadSession     = errors.New("dashboard: session cookie is malformed or its signature does not match")
	ErrSessionExpired = errors.New("dashboard: session expired")
)

// Session is what a signed cookie holds.
type Session struct {
	Workspace int64
	KeyID     int64 // the API key signed in with; revoking it ends the session
	Expires   time.Time
}

// SignSession encodes s as a cookie value: the payload, a dot, and its
// HMAC-SHA256 under key, both base64url.
func SignSession(key []byte, s Session) string {
	payload := fmt.Sprintf("%d.%d.%d", s.Workspace, s.KeyID, s.Expires.Unix())
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(sessionMAC(key, payload))
}

func sessionMAC(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(sessionDomain))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// ParseSession checks a cookie value's signature and expiry.
func ParseSession(key []byte, value string, now time.Time) (Session, error) {
	if len(key) == 0 {
		return Session{}, ErrBadSession
	}
	p64, m64, ok := strings.Cut(value, ".")
	if !ok {
		return Session{}, ErrBadSession
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, sessionMAC(key, string(payload))) {
		return Session{}, ErrBadSession
	}
	parts := strings.Split(string(payload), ".")
	if len(parts) != 3 {
		return Session{}, ErrBadSession
	}
	var n [3]int64
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return Session{}, ErrBadSession
		}
		n[i] = v
	}
	s := Session{Workspace: n[0], KeyID: n[1], Expires: time.Unix(n[2], 0)}
	if !now.Before(s.Expires) {
		return s, ErrSessionExpired
	}
	return s, nil
}

// sessionState is what a request's cookie amounts to.
type sessionState int

const (
	signedIn  sessionState = iota
	signedOut              // no cookie, or one that is bad, expired or of a revoked key (cleared)
	answered               // the check failed and a 503 was written
)

// session returns the signed-in workspace.
func (d *dashboard) session(w http.ResponseWriter, r *http.Request) (store.Workspace, sessionState) {
	var ws store.Workspace
	c, err := r.Cookie(CookieName)
	if err != nil {
		return ws, signedOut
	}
	s, err := ParseSession(d.cfg.SessionKey, c.Value, d.cfg.Now())
	if err == nil {
		ws, err = d.cfg.Store.KeyWorkspace(r.Context(), s.KeyID)
		if err == nil && ws.ID != s.Workspace {
			err = store.ErrUnauthorized
		}
	}
	switch {
	case err == nil:
		return ws, signedIn
	case errors.Is(err, ErrBadSession), errors.Is(err, ErrSessionExpired), errors.Is(err, store.ErrUnauthorized):
		d.clearCookie(w, r)
		return ws, signedOut
	default:
		if !errors.Is(err, context.Canceled) {
			d.log.Error("dashboard: session check", "err", err)
		}
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the dashboard cannot reach its database; the error is in the server's log", http.StatusServiceUnavailable)
		return ws, answered
	}
}

// secure says whether the browser reached us over TLS, directly or through
// a proxy that says so. Trusting the proxy's header here is harmless: a
// client that lies only keeps its own cookie off plain HTTP.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (d *dashboard) setCookie(w http.ResponseWriter, r *http.Request, s Session) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: SignSession(d.cfg.SessionKey, s), Path: "/",
		Expires: s.Expires, MaxAge: int(d.cfg.SessionTTL / time.Second),
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

func (d *dashboard) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// loginView is the sign-in form's data.
type loginView struct {
	Error    string
	Disabled string
	Title    string
}

// disabledText is shown when the dashboard has no key to sign sessions.
const disabledText = "Sign-in is disabled: this server has no session key. Start touchline serve with TOUCHLINE_SECRET_KEY " +
	"(32 bytes, e.g. openssl rand -base64 32); the dashboard's session key is derived from it."

func (d *dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	if d.cfg.SessionKey != nil {
		switch _, st := d.session(w, r); st {
		case signedIn:
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		case answered:
			return
		}
	}
	v := loginView{Title: "Sign in"}
	status := http.StatusOK
	if d.cfg.SessionKey == nil {
		v.Disabled, status = disabledText, http.StatusServiceUnavailable
	}
	d.render(w, status, "login", v)
}

func (d *dashboard) login(w http.ResponseWriter, r *http.Request) {
	v := loginView{Title: "Sign in"}
	if d.cfg.SessionKey == nil {
		v.Disabled = disabledText
		d.render(w, http.StatusServiceUnavailable, "login", v)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		v.Error = "The form could not be read; try again."
		d.render(w, http.StatusBadRequest, "login", v)
		return
	}
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	if key == "" {
		v.Error = "Paste an API key to sign in."
		d.render(w, http.StatusUnauthorized, "login", v)
		return
	}
	ws, err := d.cfg.Store.Authenticate(r.Context(), key)
	var keyID int64
	if err == nil {
		keyID, err = d.cfg.Store.APIKeyID(r.Context(), key)
	}
	if errors.Is(err, store.ErrUnauthorized) {
		v.Error = "That API key is unknown or revoked. Create one with: touchline apikey create --workspace NAME"
		d.render(w, http.StatusUnauthorized, "login", v)
		return
	}
	if err != nil {
		d.log.Error("dashboard: sign-in", "err", err)
		v.Error = "The server could not check the key (its database failed); the error is in its log."
		d.render(w, http.StatusServiceUnavailable, "login", v)
		return
	}
	d.setCookie(w, r, Session{Workspace: ws.ID, KeyID: keyID, Expires: d.cfg.Now().Add(d.cfg.SessionTTL)})
	d.log.Info("dashboard: signed in", "workspace", ws.Name, "key_id", keyID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (d *dashboard) logout(w http.ResponseWriter, r *http.Request) {
	d.clearCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
