package listfile

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/touchline/touchline/verifier"
)

// VerdictColumns are the columns a cleaned CSV list gains, in order.
var VerdictColumns = []string{
	"email_normalized", "status", "reason", "detail", "mx_host", "smtp_code",
	"smtp_enhanced", "smtp_text", "starttls", "catch_all", "role_account",
	"free_provider", "disposable", "elapsed_ms", "domain_spf", "domain_dmarc",
}

// Writer writes a cleaned list.
type Writer interface {
	Write(row Row, v verifier.Verdict) error
	Flush() error
}

// CSVWriter writes the original columns and the verdict columns, every cell
// made safe for spreadsheets.
type CSVWriter struct {
	w      *csv.Writer
	width  int
	record []string
}

// NewCSVWriter writes header plus the verdict columns to w.
func NewCSVWriter(w io.Writer, header []string, comma rune) (*CSVWriter, error) {
	cw := csv.NewWriter(w)
	if comma != 0 {
		cw.Comma = comma
	}
	rec := make([]string, 0, len(header)+len(VerdictColumns))
	for _, h := range header {
		rec = append(rec, SafeCell(h))
	}
	rec = append(rec, VerdictColumns...)
	if err := cw.Write(rec); err != nil {
		return nil, err
	}
	return &CSVWriter{w: cw, width: len(header), record: rec}, nil
}

// Write writes one row. A row shorter than the header is padded; the cells
// of a longer row past the header are kept in the detail column, so that
// nothing read is lost and columns stay aligned.
func (c *CSVWriter) Write(row Row, v verifier.Verdict) error {
	rec := c.record[:0]
	for i := 0; i < c.width; i++ {
		cell := ""
		if i < len(row.Fields) {
			cell = row.Fields[i]
		}
		rec = append(rec, SafeCell(cell))
	}
	detail := v.Detail
	if len(row.Fields) > c.width {
		extra, _ := json.Marshal(row.Fields[c.width:])
		detail = fmt.Sprintf("%s (row had %d cells beyond the header: %s)", detail, len(row.Fields)-c.width, extra)
	}
	code, enh, text := "", "", ""
	if v.Reply != nil {
		code, enh, text = strconv.Itoa(v.Reply.Code), v.Reply.Enhanced, v.Reply.Text
	}
	mx := ""
	if len(v.MXHosts) > 0 {
		mx = v.MXHosts[len(v.MXHosts)-1] // the host that answered
	}
	for _, s := range []string{
		v.Address, string(v.Status), string(v.Reason), detail, mx, code, enh, text,
		strconv.FormatBool(v.StartTLS), string(v.CatchAll), strconv.FormatBool(v.RoleAccount),
		strconv.FormatBool(v.FreeProvider), strconv.FormatBool(v.Disposable),
		strconv.FormatInt(v.ElapsedMS, 10), v.DomainSPF, v.DomainDMARC,
	} {
		rec = append(rec, SafeCell(s))
	}
	c.record = rec
	return c.w.Write(rec)
}

// Flush writes buffered rows and reports any write error.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// JSONLWriter writes one JSON object per row: the verdict, the row's line
// number and its original cells by header name.
type JSONLWriter struct {
	enc    *json.Encoder
	header []string
}

// NewJSONLWriter writes to w.
func NewJSONLWriter(w io.Writer, header []string) *JSONLWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONLWriter{enc: enc, header: header}
}

type jsonRow struct {
	Line   int               `json:"line"`
	Fields map[string]string `json:"fields"`
	Extra  []string          `json:"extra_fields,omitempty"`
	verifier.Verdict
}

// Write writes one row.
func (j *JSONLWriter) Write(row Row, v verifier.Verdict) error {
	out := jsonRow{Line: row.Line, Fields: make(map[string]string, len(j.header)), Verdict: v}
	for i, h := range j.header {
		if i < len(row.Fields) {
			out.Fields[h] = row.Fields[i]
		}
	}
	if len(row.Fields) > len(j.header) {
		out.Extra = row.Fields[len(j.header):]
	}
	return j.enc.Encode(out)
}

// Flush is a no-op: every row is written as it comes.
func (j *JSONLWriter) Flush() error { return nil }
