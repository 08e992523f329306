package server

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/touchline/touchline/internal/listfile"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/verifier"
)

// The do-not-contact list: addresses and whole domains never to be mailed
// (unsubscribes and bounces from a previous tool, customers,
// competitors). The verification gate skips them before the first email
// and the claim refuses them before every send, as it does the
// suppressions Touchline adds itself.
func (s *Server) suppressionRoutes() []route {
	return []route{
		{"POST", "/v1/suppressions", true, s.createSuppressions},
		{"GET", "/v1/suppressions", true, s.listSuppressions},
		{"DELETE", "/v1/suppressions/{id}", true, s.deleteSuppression},
	}
}

const (
	maxSuppressionBytes = 20 << 20
	maxSuppressionRows  = 500_000
)

// suppressionEntry is one row of an import, before it is checked.
type suppressionEntry struct {
	where  string // "line 3", "domains[2]": for the error message
	value  string
	kind   string // "email", "domain", or "" to tell by the value
	reason string
}

// createSuppressions imports entries: a JSON body {"reason": "...",
// "addresses": [...], "domains": [...]}, or a CSV with a header naming
// an email, address, domain or value column (and optionally reason and
// kind, as GET ?format=csv writes them). All or nothing: one bad row
// refuses the import and says which.
func (s *Server) createSuppressions(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, maxSuppressionBytes)
	defReason := strings.TrimSpace(r.URL.Query().Get("reason"))
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var entries []suppressionEntry
	var err error
	switch mt {
	case "text/csv", "application/csv":
		entries, err = suppressionsFromCSV(body)
	case "multipart/form-data":
		problem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Unsupported media type", "send text/csv (the file as the body) or JSON")
		return
	default: // JSON, whatever curl -d calls it
		entries, err = suppressionsFromJSON(body, &defReason)
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		problem(w, http.StatusRequestEntityTooLarge, "too_large", "Import too large", fmt.Sprintf("the body is larger than %d MB; split it", maxSuppressionBytes>>20))
		return
	case err != nil:
		problem(w, http.StatusUnprocessableEntity, "bad_suppressions", "Unreadable import", err.Error())
		return
	case len(entries) == 0:
		problem(w, http.StatusUnprocessableEntity, "empty_file", "Nothing to suppress",
			"the body holds no address or domain; check the file path (curl --data-binary @FILE sends nothing when FILE is missing)")
		return
	case len(entries) > maxSuppressionRows:
		problem(w, http.StatusRequestEntityTooLarge, "too_many_rows", "Import too large", fmt.Sprintf("%d entries; at most %d in one import", len(entries), maxSuppressionRows))
		return
	}
	in := make([]store.SuppressionInput, 0, len(entries))
	var bad []string
	for _, e := range entries {
		v, perr := normalizeSuppression(e.value, e.kind)
		reason := e.reason
		if reason == "" {
			reason = defReason
		}
		switch {
		case perr != "":
			bad = append(bad, fmt.Sprintf("%s: %q: %s", e.where, e.value, perr))
		case reason == "":
			bad = append(bad, fmt.Sprintf("%s: %q: no reason (give a reason column, \"reason\" in JSON, or ?reason=)", e.where, e.value))
		default:
			in = append(in, store.SuppressionInput{Value: v, Reason: reason})
		}
	}
	if len(bad) > 0 {
		more := ""
		if len(bad) > 10 {
			more = fmt.Sprintf("; and %d more", len(bad)-10)
			bad = bad[:10]
		}
		problem(w, http.StatusUnprocessableEntity, "invalid_suppressions", "Invalid entries; nothing imported",
			fmt.Sprintf("%d of %d entries are not addresses or domains: %s%s", len(bad), len(entries), strings.Join(bad, "; "), more))
		return
	}
	added, err := s.cfg.Store.AddSuppressions(r.Context(), workspaceOf(r).ID, in)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"received": len(in), "added": added, "already_suppressed": len(in) - added})
}

func suppressionsFromJSON(body io.Reader, reason *string) ([]suppressionEntry, error) {
	var req struct {
		Reason    string   `json:"reason"`
		Addresses []string `json:"addresses"`
		Domains   []string `json:"domains"`
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("want {\"reason\": \"...\", \"addresses\": [...], \"domains\": [...]} or a text/csv body: %v", err)
	}
	if r := strings.TrimSpace(req.Reason); r != "" {
		*reason = r
	}
	var out []suppressionEntry
	for i, a := range req.Addresses {
		out = append(out, suppressionEntry{where: fmt.Sprintf("addresses[%d]", i), value: a, kind: "email"})
	}
	for i, d := range req.Domains {
		out = append(out, suppressionEntry{where: fmt.Sprintf("domains[%d]", i), value: d, kind: "domain"})
	}
	return out, nil
}

func suppressionsFromCSV(body io.Reader) ([]suppressionEntry, error) {
	cr := csv.NewReader(body)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	col := func(names ...string) int {
		for i, h := range header {
			h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
			for _, n := range names {
				if h == n {
					return i
				}
			}
		}
		return -1
	}
	valueCol, kindOf := col("email", "address", "email_address"), "email"
	if valueCol < 0 {
		valueCol, kindOf = col("domain"), "domain"
	}
	if valueCol < 0 {
		valueCol, kindOf = col("value"), ""
	}
	if valueCol < 0 {
		return nil, fmt.Errorf("no email, address, domain or value column in the header %q", strings.Join(header, ","))
	}
	reasonCol, kindCol := col("reason"), col("kind")
	var out []suppressionEntry
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		cell := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		v := cell(valueCol)
		if v == "" {
			continue // a blank row, or a row without this column
		}
		kind := kindOf
		if k := cell(kindCol); kindOf == "" && (k == "email" || k == "domain") {
			kind = k
		}
		out = append(out, suppressionEntry{where: "line " + strconv.Itoa(line), value: v, kind: kind, reason: cell(reasonCol)})
		if len(out) > maxSuppressionRows {
			return out, nil // the caller refuses it
		}
	}
}

// normalizeSuppression returns the stored form of an entry, an address
// or "@domain", or what is wrong with it.
func normalizeSuppression(v, kind string) (string, string) {
	v = strings.TrimSpace(v)
	if kind == "" {
		kind = "email"
		if !strings.Contains(v, "@") || strings.HasPrefix(v, "@") {
			kind = "domain"
		}
	}
	if kind == "domain" {
		d := strings.TrimPrefix(v, "@")
		if strings.Contains(d, "@") {
			return "", "a domain, not an address, was expected"
		}
		a, err := verifier.ParseAddress("x@" + d)
		if err != nil {
			var se *verifier.SyntaxError
			if errors.As(err, &se) {
				return "", "not a domain: " + se.Reason
			}
			return "", "not a domain"
		}
		return "@" + a.Domain, ""
	}
	a, err := verifier.ParseAddress(v)
	if err != nil {
		var se *verifier.SyntaxError
		if errors.As(err, &se) {
			return "", "not an address: " + se.Reason
		}
		return "", "not an address"
	}
	return strings.ToLower(a.String()), ""
}

// suppressionOut is an entry as the API shows it: a domain without its
// "@", so that a spreadsheet does not take it for a formula.
func suppressionOut(e store.Suppression) store.Suppression {
	e.Value = strings.TrimPrefix(e.Value, "@")
	return e
}

// listSuppressions pages through the list (?q=, ?kind=, ?limit=,
// ?cursor=), or exports every matching entry with ?format=csv.
func (s *Server) listSuppressions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.SuppressionFilter{Query: strings.TrimSpace(q.Get("q")), Kind: q.Get("kind"), Limit: 100}
	if f.Kind != "" && f.Kind != "email" && f.Kind != "domain" {
		problem(w, http.StatusBadRequest, "bad_kind", "Bad kind", fmt.Sprintf("kind %q: want email or domain", f.Kind))
		return
	}
	var ok bool
	if f.After, f.Limit, ok = page(w, q, f.Limit, 1000); !ok {
		return
	}
	ws := workspaceOf(r).ID
	switch format := q.Get("format"); format {
	case "csv":
		f.Limit = 0 // the whole list from the cursor on
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="suppressions.csv"`)
		cw := csv.NewWriter(w)
		cw.Write([]string{"kind", "value", "reason", "source", "created_at"})
		_, err := s.cfg.Store.ListSuppressions(r.Context(), ws, f, func(e store.Suppression) error {
			e = suppressionOut(e)
			if e.Erased {
				e.Value = "[erased]"
			}
			return cw.Write([]string{e.Kind, listfile.SafeCell(e.Value), listfile.SafeCell(e.Reason), e.Source, e.CreatedAt.UTC().Format(time.RFC3339)})
		})
		cw.Flush()
		if err != nil {
			s.log.Warn("suppressions export ended early", "err", err)
		}
	case "", "json":
		out := []store.Suppression{}
		next, err := s.cfg.Store.ListSuppressions(r.Context(), ws, f, func(e store.Suppression) error {
			out = append(out, suppressionOut(e))
			return nil
		})
		if err != nil {
			s.internal(w, r, err)
			return
		}
		resp := map[string]any{"suppressions": out}
		if next != 0 {
			resp["next_cursor"] = strconv.FormatInt(next, 10)
		}
		writeJSON(w, http.StatusOK, resp)
	default:
		problem(w, http.StatusBadRequest, "bad_format", "Bad format", fmt.Sprintf("format %q: want json or csv", format))
	}
}

func (s *Server) deleteSuppression(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.DeleteSuppression(r.Context(), workspaceOf(r).ID, id); err != nil {
		s.notFoundOr(w, r, err, "Suppression")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
