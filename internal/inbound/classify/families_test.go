package classify

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestMTAFamilies reads testdata/families: short bounces we wrote from the
// documented formats of about sixty MTA and provider families, so that the
// rules are checked on families the real-mail corpora do not contain. A
// machine-written message read as a human reply fails loudly; so does any
// other difference from expected.tsv.
func TestMTAFamilies(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/families/expected.tsv")
	if err != nil {
		t.Fatal(err)
	}
	type famScore struct{ ok, n int }
	perFamily := map[string]*famScore{}
	passed, total := 0, 0
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n")[1:] {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("expected.tsv line %d: %d fields, want 4", i+2, len(f))
		}
		file, family, wantClass, wantRcpts := f[0], f[1], f[2], f[3]
		raw, err := os.ReadFile(filepath.Join("testdata/families", file))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Classify(raw)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		total++
		fs := perFamily[family]
		if fs == nil {
			fs = &famScore{}
			perFamily[family] = fs
		}
		fs.n++
		var problems []string
		if res.Class == ClassHumanReply && wantClass != string(ClassHumanReply) {
			problems = append(problems, "MACHINE MESSAGE READ AS HUMAN")
		}
		switch {
		case strings.HasPrefix(wantClass, "!"):
			if string(res.Class) == wantClass[1:] {
				problems = append(problems, "class "+string(res.Class))
			}
		case string(res.Class) != wantClass:
			problems = append(problems, "class "+string(res.Class)+", want "+wantClass)
		}
		want := map[string]string{}
		if wantRcpts != "" {
			for _, rk := range strings.Split(wantRcpts, ";") {
				a, k, _ := strings.Cut(rk, "=")
				want[a] = k
			}
		}
		got := map[string]Recipient{}
		for _, r := range res.Recipients {
			got[r.Address] = r
		}
		for a, k := range want {
			r, ok := got[a]
			switch {
			case !ok:
				problems = append(problems, "missing "+a)
			case k == "nothard" && r.Kind == Hard:
				problems = append(problems, a+" hard ("+r.Reason+"), want not hard")
			case k != "" && k != "nothard" && string(r.Kind) != k:
				problems = append(problems, a+" "+string(r.Kind)+" ("+r.Reason+"), want "+k)
			}
		}
		for a := range got {
			if _, ok := want[a]; !ok {
				problems = append(problems, "extra recipient "+a)
			}
		}
		if len(problems) > 0 {
			t.Errorf("%s (%s): rule %s: %s; recipients %+v", file, family, res.Rule, strings.Join(problems, "; "), res.Recipients)
			continue
		}
		passed++
		fs.ok++
	}
	names := make([]string, 0, len(perFamily))
	for n := range perFamily {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(fmt.Sprintf("  %s %d/%d\n", n, perFamily[n].ok, perFamily[n].n))
	}
	t.Logf("families: %d/%d messages right\n%s", passed, total, b.String())
}
