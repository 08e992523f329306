package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/listfile"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/verifier"
)

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		problem(w, http.StatusBadRequest, "bad_id", "Bad ID", fmt.Sprintf("%q is not an ID", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

func (s *Server) notFoundOr(w http.ResponseWriter, r *http.Request, err error, what string) {
	if errors.Is(err, store.ErrNotFound) {
		problem(w, http.StatusNotFound, "not_found", what+" not found", fmt.Sprintf("no %s with ID %s in this workspace", strings.ToLower(what), r.PathValue("id")))
		return
	}
	s.internal(w, r, err)
}

// createList streams an upload (text/csv body, or a multipart form with a
// "file" part) into the database and queues its verification.
func (s *Server) createList(w http.ResponseWriter, r *http.Request) {
	ws := workspaceOf(r)
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes)
	name := strings.TrimSpace(r.URL.Query().Get("name"))
	var in io.Reader = body
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil && r.Header.Get("Content-Type") != "":
		problem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Unsupported media type", "send text/csv or multipart/form-data with a \"file\" part")
		return
	case mt == "multipart/form-data":
		mr, err := multipartFile(body, params["boundary"])
		if err != nil {
			problem(w, http.StatusBadRequest, "bad_multipart", "Bad multipart upload", err.Error())
			return
		}
		in = mr
		if name == "" {
			name = strings.TrimSuffix(path.Base(mr.FileName()), path.Ext(mr.FileName()))
		}
	case mt == "text/csv" || mt == "text/plain" || mt == "application/csv" || mt == "":
	default:
		problem(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Unsupported media type",
			fmt.Sprintf("got %s; send text/csv or multipart/form-data with a \"file\" part", mt))
		return
	}
	if name == "" {
		name = "list " + time.Now().UTC().Format("2006-01-02 15:04")
	}
	lr, err := listfile.NewReader(in, r.URL.Query().Get("column"))
	if err != nil {
		s.uploadError(w, r, err)
		return
	}
	var enqueue func(context.Context, pgxTx, int64, int) error
	if s.cfg.River != nil {
		enqueue = jobs.Enqueuer(s.cfg.River)
	}
	l, err := s.cfg.Store.Ingest(r.Context(), ws.ID, name, lr, store.IngestOptions{
		MaxRows: s.cfg.MaxRows, BatchSize: s.cfg.BatchSize, Enqueue: enqueue,
	})
	if err != nil {
		s.uploadError(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/lists/%d", l.ID))
	writeJSON(w, http.StatusAccepted, l)
}

func (s *Server) uploadError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	var ie *store.IngestError
	switch {
	case errors.As(err, &mbe):
		problem(w, http.StatusRequestEntityTooLarge, "too_large", "Upload too large",
			fmt.Sprintf("the upload is larger than %d MB; split the list", s.cfg.MaxUploadBytes>>20))
	case errors.As(err, &ie):
		status := http.StatusUnprocessableEntity
		if ie.Code == "too_many_rows" {
			status = http.StatusRequestEntityTooLarge
		}
		problem(w, status, ie.Code, "List refused", ie.Detail)
	case errors.Is(err, listfile.ErrNoEmailColumn):
		problem(w, http.StatusUnprocessableEntity, "no_email_column", "No email column", strings.TrimPrefix(err.Error(), "listfile: ")+" (or pass ?column=NAME)")
	case strings.Contains(err.Error(), "UTF-8"):
		problem(w, http.StatusUnprocessableEntity, "bad_encoding", "Wrong encoding", strings.TrimPrefix(err.Error(), "listfile: "))
	case strings.Contains(err.Error(), "listfile: the file is empty"):
		// curl sends an empty body for --data-binary @FILE when FILE is
		// not there (it only warns), so say so.
		problem(w, http.StatusUnprocessableEntity, "empty_file", "Empty upload", strings.TrimPrefix(err.Error(), "listfile: ")+
			"; the request body was empty: check the file path (curl --data-binary @FILE sends nothing when FILE is missing) or that the file has content")
	case strings.HasPrefix(err.Error(), "listfile:"):
		problem(w, http.StatusUnprocessableEntity, "bad_csv", "Unreadable CSV", strings.TrimPrefix(err.Error(), "listfile: "))
	default:
		s.internal(w, r, err)
	}
}

func (s *Server) listLists(w http.ResponseWriter, r *http.Request) {
	lists, err := s.cfg.Store.ListLists(r.Context(), workspaceOf(r).ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"lists": lists})
}

func (s *Server) getList(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	l, err := s.cfg.Store.GetList(r.Context(), workspaceOf(r).ID, id)
	if err != nil {
		s.notFoundOr(w, r, err, "List")
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) cancelList(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	l, err := s.cfg.Store.CancelList(r.Context(), workspaceOf(r).ID, id)
	if errors.Is(err, store.ErrConflict) {
		problem(w, http.StatusConflict, "not_cancellable", "List not cancellable", strings.TrimPrefix(err.Error(), "store: conflict: "))
		return
	}
	if err != nil {
		s.notFoundOr(w, r, err, "List")
		return
	}
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) deleteList(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.DeleteList(r.Context(), workspaceOf(r).ID, id); err != nil {
		s.notFoundOr(w, r, err, "List")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var statuses = map[string]bool{"deliverable": true, "undeliverable": true, "risky": true, "unknown": true}

// listResults streams a list's rows with their verdicts, in upload order.
func (s *Server) listResults(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	format, status := q.Get("format"), q.Get("status")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "jsonl" {
		problem(w, http.StatusBadRequest, "bad_format", "Bad format", fmt.Sprintf("format %q: want csv or jsonl", format))
		return
	}
	if status != "" && !statuses[status] {
		problem(w, http.StatusBadRequest, "bad_status", "Bad status", fmt.Sprintf("status %q: want deliverable, undeliverable, risky or unknown", status))
		return
	}
	ws := workspaceOf(r).ID
	l, err := s.cfg.Store.GetList(r.Context(), ws, id)
	if err != nil {
		s.notFoundOr(w, r, err, "List")
		return
	}
	var out listfile.Writer
	if format == "jsonl" {
		w.Header().Set("Content-Type", "application/x-ndjson")
		out = listfile.NewJSONLWriter(w, l.Header)
	} else {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("list-%d-cleaned.csv", l.ID)))
		comma := ','
		if l.Separator != "" {
			comma = []rune(l.Separator)[0]
		}
		cw, err := listfile.NewCSVWriter(w, l.Header, comma)
		if err != nil {
			return
		}
		out = cw
	}
	n := 0
	err = s.cfg.Store.Results(r.Context(), ws, id, status, func(row store.ResultRow) error {
		var v verifier.Verdict
		if row.Verdict != nil {
			v = *row.Verdict
		}
		if err := out.Write(listfile.Row{Line: row.Line, Fields: row.Fields}, v); err != nil {
			return err
		}
		if n++; n%1000 == 0 {
			if err := out.Flush(); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		// Headers are gone; all that is left is to stop.
		s.log.Warn("results stream ended early", "list", id, "err", err)
	}
}

// verify answers for one address, within VerifyTimeout.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email string `json:"email"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			problem(w, http.StatusRequestEntityTooLarge, "too_large", "Request too large", "the body is larger than 64 KB")
			return
		}
		problem(w, http.StatusBadRequest, "bad_json", "Bad request body", "want {\"email\": \"...\"}: "+err.Error())
		return
	}
	if strings.TrimSpace(req.Email) == "" {
		problem(w, http.StatusUnprocessableEntity, "missing_email", "Missing email", "the body needs a non-empty \"email\"")
		return
	}
	if s.cfg.Verifier == nil {
		problem(w, http.StatusServiceUnavailable, "no_verifier", "Verification unavailable", "this process runs without a verifier")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.VerifyTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, s.cfg.Verifier.Verify(ctx, req.Email))
}

func (s *Server) listLeads(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.LeadFilter{Stage: q.Get("stage"), Status: q.Get("status"), Query: q.Get("q")}
	if f.Status != "" && !statuses[f.Status] {
		problem(w, http.StatusBadRequest, "bad_status", "Bad status", fmt.Sprintf("status %q: want deliverable, undeliverable, risky or unknown", f.Status))
		return
	}
	var ok bool
	if f.After, f.Limit, ok = page(w, q, f.Limit, 500); !ok {
		return
	}
	switch q.Get("format") {
	case "", "json":
	case "csv":
		s.leadsCSV(w, r, f)
		return
	default:
		problem(w, http.StatusBadRequest, "bad_format", "Bad format", fmt.Sprintf("format %q: want json or csv", q.Get("format")))
		return
	}
	leads, next, err := s.cfg.Store.ListLeads(r.Context(), workspaceOf(r).ID, f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if leads == nil {
		leads = []store.Lead{}
	}
	resp := map[string]any{"leads": leads}
	if next != 0 {
		resp["next_cursor"] = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) getLead(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	ws := workspaceOf(r).ID
	l, err := s.cfg.Store.GetLead(r.Context(), ws, id)
	if err != nil {
		s.notFoundOr(w, r, err, "Lead")
		return
	}
	events, err := s.cfg.Store.LeadEvents(r.Context(), ws, id)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if events == nil {
		events = []store.LeadEvent{}
	}
	writeJSON(w, http.StatusOK, struct {
		store.Lead
		Events []store.LeadEvent `json:"events"`
	}{l, events})
}

func (s *Server) deleteLead(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.DeleteLead(r.Context(), workspaceOf(r).ID, id); err != nil {
		s.notFoundOr(w, r, err, "Lead")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// page reads a paged listing's ?cursor= (the next_cursor of the previous
// page: an ID to continue after) and ?limit= (1 to max; def when absent).
// On bad input it has answered with a problem and returns false.
func page(w http.ResponseWriter, q url.Values, def, max int) (after int64, limit int, ok bool) {
	limit = def
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			problem(w, http.StatusBadRequest, "bad_cursor", "Bad cursor", "pass the next_cursor of the previous page")
			return 0, 0, false
		}
		after = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > max {
			problem(w, http.StatusBadRequest, "bad_limit", "Bad limit", fmt.Sprintf("limit is 1 to %d", max))
			return 0, 0, false
		}
		limit = n
	}
	return after, limit, true
}
