// Package listfile reads prospect lists and writes cleaned ones. A list is a
// CSV file with a header row (comma, semicolon or tab separated, UTF-8 with
// or without a byte-order mark) of which one column holds email addresses.
// A cleaned list is the same rows, in the same order, with every original
// column kept and verdict columns appended, as CSV or JSON lines.
//
// Reading never fails on a bad row: a row that cannot be parsed becomes a
// Row with Err set, so it can be given a verdict of its own and the output
// keeps one row per input row.
package listfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrNoEmailColumn is returned when no column of the header holds emails.
var ErrNoEmailColumn = errors.New("listfile: no email column")

// Row is one data row of a list.
type Row struct {
	Line   int      // 1-based line number where the row starts, for messages
	Fields []string // the original cells, as read
	Email  string   // the email cell, untrimmed
	Err    error    // why the row could not be read as a list row, if so
}

// Reader reads a list row by row.
type Reader struct {
	Header []string // the header row as read
	Column int      // 0-based index of the email column
	Comma  rune     // the separator in use

	csv  *csv.Reader
	raw  *lineRecorder
	line int
	err  error
}

// emailHeaders are header cells, normalized by normHeader, that name the
// email column, in order of preference.
var emailHeaders = []string{
	"email", "emailaddress", "e-mail", "e-mailaddress", "mail", "workemail",
	"businessemail", "contactemail", "emailaddr", "email1", "primaryemail",
	"courriel", "correo", "correoelectronico",
}

func normHeader(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.NewReplacer(" ", "", "_", "", ".", "").Replace(s)
	return s
}

// NewReader reads the header of r and finds the email column: column names
// it by header text or by 1-based number; empty means find it by header.
func NewReader(r io.Reader, column string) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// A byte-order mark from Excel would otherwise stick to the first
	// header cell and hide an "email" column there.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	comma, err := sniffComma(br)
	if err != nil {
		return nil, err
	}
	lines := &lineRecorder{r: br, lines: map[int]string{}}
	cr := csv.NewReader(lines)
	cr.Comma = comma
	cr.FieldsPerRecord = -1 // ragged rows are reported per row, not fatal
	// Strict quotes: a lenient reader lets one stray quote swallow the
	// rows after it without a word. A row with a stray quote is instead
	// reported, and its cells recovered from its raw line.
	cr.LazyQuotes = false
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("listfile: the file is empty: expected a header row naming an email column")
	}
	if err != nil {
		return nil, fmt.Errorf("listfile: header row: %w", err)
	}
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, fmt.Errorf("listfile: header cell %d is not valid UTF-8: save the file as UTF-8 CSV", i+1)
		}
	}
	col, err := findColumn(header, column)
	if err != nil {
		return nil, err
	}
	return &Reader{Header: header, Column: col, Comma: comma, csv: cr, line: 1, raw: lines}, nil
}

// sniffComma picks the separator from the header line: Excel in many
// European locales writes semicolons.
func sniffComma(br *bufio.Reader) (rune, error) {
	b, err := br.Peek(br.Size())
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return 0, fmt.Errorf("listfile: read: %w", err)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	best, n := ',', bytes.Count(b, []byte(","))
	for _, c := range []rune{';', '\t'} {
		if k := bytes.Count(b, []byte(string(c))); k > n {
			best, n = c, k
		}
	}
	return best, nil
}

func findColumn(header []string, column string) (int, error) {
	if column != "" {
		if n, err := strconv.Atoi(column); err == nil {
			if n < 1 || n > len(header) {
				return 0, fmt.Errorf("listfile: column %d is out of range: the header has %d columns", n, len(header))
			}
			return n - 1, nil
		}
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(column)) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%w: no column named %q; the header has %s", ErrNoEmailColumn, column, quoteList(header))
	}
	for _, want := range emailHeaders {
		for i, h := range header {
			if normHeader(h) == want {
				return i, nil
			}
		}
	}
	// "Work Email Address", "Email (primary)": take a lone column whose
	// name mentions email.
	found := -1
	for i, h := range header {
		if n := normHeader(h); strings.Contains(n, "email") || strings.Contains(n, "e-mail") {
			if found >= 0 {
				return 0, fmt.Errorf("%w: several columns could hold emails (%q and %q); choose one with --column", ErrNoEmailColumn, header[found], h)
			}
			found = i
		}
	}
	if found >= 0 {
		return found, nil
	}
	for _, h := range header {
		if strings.Contains(h, "@") {
			return 0, fmt.Errorf("%w: the first row looks like data (%q), not a header; add a header row with an \"email\" column", ErrNoEmailColumn, h)
		}
	}
	return 0, fmt.Errorf("%w: no header cell names an email column; the header has %s; name the column with --column", ErrNoEmailColumn, quoteList(header))
}

func quoteList(h []string) string {
	q := make([]string, len(h))
	for i, s := range h {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// Err returns the I/O error that ended Rows early, if any.
func (r *Reader) Err() error { return r.err }

// Rows yields every data row. Rows with problems are yielded with Err set;
// iteration ends at the end of input or at an I/O error (see Err).
func (r *Reader) Rows() iter.Seq[Row] {
	return func(yield func(Row) bool) {
		for {
			fields, err := r.csv.Read()
			if err == io.EOF {
				return
			}
			row := Row{Line: r.line + 1, Fields: fields}
			var pe *csv.ParseError
			switch {
			case errors.As(err, &pe):
				row.Line = pe.StartLine
				row.Fields = r.recover(pe.StartLine, pe.Line)
				row.Err = fmt.Errorf("line %d: malformed CSV (%v); cells recovered as written", pe.StartLine, pe.Err)
			case err != nil:
				r.err = fmt.Errorf("listfile: read: %w", err)
				return
			}
			if err == nil && len(fields) > 0 {
				row.Line, _ = r.csv.FieldPos(0)
			}
			r.line = row.Line
			if row.Err == nil {
				switch {
				case len(fields) <= r.Column:
					row.Err = fmt.Errorf("line %d: row has %d fields but the email column is column %d", row.Line, len(fields), r.Column+1)
				case !utf8.ValidString(fields[r.Column]):
					row.Err = fmt.Errorf("line %d: email cell is not valid UTF-8 (save the file as UTF-8)", row.Line)
				default:
					row.Email = fields[r.Column]
				}
			}
			if !yield(row) {
				return
			}
		}
	}
}

// recover re-reads the raw lines of a malformed record leniently, so that
// its cells reach the output even though the row gets no verification.
func (r *Reader) recover(from, to int) []string {
	var b strings.Builder
	for l := from; l <= to; l++ {
		if t, ok := r.raw.line(l); ok {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(t)
		}
	}
	if from == to {
		// One line: its cells are what lies between the separators.
		return strings.Split(b.String(), string(r.Comma))
	}
	lr := csv.NewReader(strings.NewReader(b.String()))
	lr.Comma, lr.FieldsPerRecord, lr.LazyQuotes = r.Comma, -1, true
	var out []string
	for {
		f, err := lr.Read()
		if err != nil {
			break
		}
		out = append(out, f...)
	}
	if out == nil && b.Len() > 0 {
		out = []string{b.String()}
	}
	return out
}

// lineRecorder passes bytes through to the CSV reader and keeps the most
// recent raw lines by number, so a malformed record can be recovered.
type lineRecorder struct {
	r       io.Reader
	lines   map[int]string
	partial []byte
	n       int // lines completed
}

// keepLines bounds memory: the CSV reader reads ahead at most a few
// kilobytes, far fewer lines than this.
const keepLines = 4096

func (l *lineRecorder) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		if c != '\n' {
			if len(l.partial) < 1<<20 {
				l.partial = append(l.partial, c)
			}
			continue
		}
		l.n++
		l.lines[l.n] = strings.TrimSuffix(string(l.partial), "\r")
		delete(l.lines, l.n-keepLines)
		l.partial = l.partial[:0]
	}
	if err == io.EOF && len(l.partial) > 0 {
		l.n++
		l.lines[l.n] = string(l.partial)
		l.partial = l.partial[:0]
	}
	return n, err
}

func (l *lineRecorder) line(n int) (string, bool) {
	s, ok := l.lines[n]
	return s, ok
}

// CountRows counts the data rows of a list cheaply, for progress reporting.
func CountRows(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	comma, err := sniffComma(br)
	if err != nil {
		return 0, err
	}
	cr := csv.NewReader(br)
	cr.Comma, cr.FieldsPerRecord, cr.ReuseRecord = comma, -1, true
	n := -1 // the header
	for {
		_, err := cr.Read()
		if err == io.EOF {
			return max(n, 0), nil
		}
		var pe *csv.ParseError
		if err != nil && !errors.As(err, &pe) {
			return 0, err
		}
		n++
	}
}

// SafeCell neutralizes a cell that a spreadsheet would run as a formula
// (OWASP "CSV injection"): a leading = + - @, tab or carriage return gets a
// leading apostrophe, which spreadsheets show as text.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
