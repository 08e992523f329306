package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// asset is an embedded file with the hash that versions its URL.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

var assets = func() map[string]asset {
	out := map[string]asset{}
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := assetFS.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = asset{body: b, ctype: mime.TypeByExtension(path.Ext(e.Name())), etag: hex.EncodeToString(sum[:6])}
	}
	return out
}()

// assetURL is an asset's path with its content hash, so a new binary's CSS
// is never mixed with an old cached one.
func assetURL(name string) (string, error) {
	a, ok := assets[name]
	if !ok {
		return "", fs.ErrNotExist
	}
	return "/assets/" + name + "?v=" + a.etag, nil
}

// assetHandler serves /assets/NAME from the binary.
func assetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[strings.TrimPrefix(r.URL.Path, "/assets/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		if a.ctype != "" {
			h.Set("Content-Type", a.ctype)
		}
		h.Set("ETag", `"`+a.etag+`"`)
		if r.URL.Query().Get("v") == a.etag {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

var funcs = template.FuncMap{
	"asset": assetURL,
	"pct":   pct,
	"num":   num,
	"f1":    func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"exact": func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) },
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"when":  func(t time.Time) string { return t.UTC().Format("Jan 2, 15:04 UTC") },
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05 UTC") },
	"percentOf": func(part, whole int) string {
		if whole <= 0 {
			return "0%"
		}
		return strconv.Itoa(part*100/whole) + "%"
	},
	"rateClass": rateClass,
	"upper":     strings.ToUpper,
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
}

// num writes an integer with thousands separators.
func num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// rateClass colours a rate: a hard-bounce rate over 2% hurts a domain's
// reputation and over 3% trips the guardrail; a reply rate has no bad.
func rateClass(kind string, rate float64, sent int) string {
	if sent == 0 {
		return "muted"
	}
	if kind == "bounce" {
		switch {
		case rate > 0.03:
			return "bad"
		case rate >= 0.02:
			return "warn"
		}
		return "good"
	}
	return ""
}
