package listfile

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func rows(t *testing.T, in, column string) (*Reader, []Row) {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), column)
	if err != nil {
		t.Fatal(err)
	}
	return r, slices.Collect(r.Rows())
}

func TestFindEmailColumn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header, column string
		want           int
		err            string
	}{
		{"name,email,company", "", 1, ""},
		{"Name,E-Mail Address,Company", "", 1, ""},
		{"First Name,Last Name,Work Email", "", 2, ""},
		{"Email (primary),Phone", "", 0, ""},
		{"name,mail", "", 1, ""},
		{"a,b,c", "3", 2, ""},
		{"a,b,c", "B", 1, ""},
		{"a,b,c", "4", 0, "out of range"},
		{"a,b,c", "", 0, "no header cell names an email column"},
		{"jane@acme.test,Jane", "", 0, "looks like data"},
		{"home email,work email", "", 1, ""},
		{"personal email,private email", "", 0, "several columns"},
	} {
		r, err := NewReader(strings.NewReader(tc.header+"\n"), tc.column)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrNoEmailColumn) && !strings.Contains(tc.err, "range") {
				t.Errorf("%q/%q: err %v, want %q", tc.header, tc.column, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q/%q: %v", tc.header, tc.column, err)
		case r.Column != tc.want:
			t.Errorf("%q/%q: column %d, want %d", tc.header, tc.column, r.Column, tc.want)
		}
	}
}

func TestSeparatorAndBOM(t *testing.T) {
	t.Parallel()
	r, got := rows(t, "\ufeffname;email\nJane;jane@acme.test\n", "")
	if r.Comma != ';' || r.Header[1] != "email" || len(got) != 1 || got[0].Email != "jane@acme.test" || got[0].Line != 2 {
		t.Fatalf("comma %q header %q rows %+v", r.Comma, r.Header, got)
	}
	r, got = rows(t, "email\tname\njane@acme.test\tJane\n", "")
	if r.Comma != '\t' || got[0].Email != "jane@acme.test" {
		t.Fatalf("tab: %q %+v", r.Comma, got)
	}
}

func TestRaggedAndBrokenRowsAreKept(t *testing.T) {
	t.Parallel()
	in := "name,email,notes\n" +
		"Jane,jane@acme.test,\"multi\nline\"\n" +
		"Short\n" +
		"Long,long@acme.test,a,b,c\n" +
		"Bad,\xff@acme.test,\n" +
		"Quote,\"odd\"quote@acme.test,\n" +
		"Bob,bob@acme.test,\"Acme\" Ltd\n" +
		"Alice,alice@beta.test,Beta\n" +
		"Dan,dan@delta.test,\"Delta\"\n"
	_, got := rows(t, in, "")
	if len(got) != 8 {
		t.Fatalf("%d rows: %+v", len(got), got)
	}
	if got[0].Err != nil || got[0].Fields[2] != "multi\nline" || got[0].Line != 2 {
		t.Errorf("quoted newline: %+v", got[0])
	}
	if got[1].Err == nil || got[1].Line != 4 || !strings.Contains(got[1].Err.Error(), "line 4") {
		t.Errorf("short row: %+v", got[1])
	}
	if got[2].Err != nil || len(got[2].Fields) != 5 {
		t.Errorf("long row: %+v", got[2])
	}
	if got[3].Err == nil || !strings.Contains(got[3].Err.Error(), "UTF-8") {
		t.Errorf("bad UTF-8: %+v", got[3])
	}
	// A stray quote makes its own row malformed, with its cells kept;
	// it does not swallow the rows after it.
	if got[4].Err == nil || got[4].Fields[0] != "Quote" || got[4].Line != 7 {
		t.Errorf("stray quote: %+v", got[4])
	}
	if got[5].Err == nil || !slices.Equal(got[5].Fields, []string{"Bob", "bob@acme.test", `"Acme" Ltd`}) {
		t.Errorf("stray quote: %+v", got[5])
	}
	if got[6].Err != nil || got[6].Email != "alice@beta.test" || got[7].Email != "dan@delta.test" || got[7].Line != 10 {
		t.Errorf("rows after a stray quote: %+v %+v", got[6], got[7])
	}
}

func TestCountRows(t *testing.T) {
	t.Parallel()
	n, err := CountRows(strings.NewReader("email\na@b.test\n\"x\ny\"\nc@d.test\n"))
	if err != nil || n != 3 {
		t.Fatalf("CountRows = %d, %v", n, err)
	}
}

func TestSafeCell(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"=1+2": "'=1+2", "+1 555": "'+1 555", "-5": "'-5", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx",
		"jane@acme.test": "jane@acme.test", "": "", "plain": "plain",
	} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzReader feeds arbitrary bytes as a list: reading must never panic,
// and every row read must either carry an email or say why not.
func FuzzReader(f *testing.F) {
	f.Add("email\na@b.test\n")
	f.Add("\ufeffname;email\nJane;\"x\"\"y\"@b.test\n")
	f.Add("email,x\n\"unterminated\n")
	f.Add("email\n\xff\xfe\n")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := NewReader(strings.NewReader(in), "")
		if err != nil {
			return
		}
		for row := range r.Rows() {
			if row.Err == nil && (len(row.Fields) <= r.Column || row.Fields[r.Column] != row.Email) {
				t.Fatalf("row %+v: email cell mismatch", row)
			}
			if row.Line < 2 {
				t.Fatalf("row line %d", row.Line)
			}
		}
	})
}
