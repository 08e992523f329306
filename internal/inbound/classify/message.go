package classify

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// Limits that keep a hostile message from costing more than a large real
// one.
const (
	maxDepth      = 8
	maxParts      = 200
	maxRecipients = 1000
)

// entity is one MIME entity with its transfer encoding removed.
type entity struct {
	header    textproto.MIMEHeader
	mediaType string            // lowercased, "text/plain" when absent
	params    map[string]string // names lowercased by mime.ParseMediaType
	body      []byte
	parts     []*entity // multipart children, or the one message/rfc822 inside
}

// parseHeader reads an RFC 5322 header section leniently: lines that are
// neither fields nor continuations are skipped once a first field has been
// read. ok is false when the input does not start with a header field.
func parseHeader(b []byte) (h textproto.MIMEHeader, body []byte, ok bool) {
	h = textproto.MIMEHeader{}
	var name string
	var value []string
	flush := func() {
		if name != "" {
			h[name] = append(h[name], strings.TrimSpace(strings.Join(value, " ")))
		}
		name, value = "", nil
	}
	rest := b
	n := 0
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if name != "" {
				value = append(value, strings.TrimSpace(string(line)))
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validFieldName(line[:colon]) {
			if n == 0 {
				return nil, nil, false
			}
			flush()
			continue
		}
		flush()
		name = textproto.CanonicalMIMEHeaderKey(string(line[:colon]))
		value = []string{string(line[colon+1:])}
		n++
	}
	flush()
	return h, rest, n > 0
}

// validFieldName is RFC 5322 §3.6.8 ftext: printable ASCII but colon.
func validFieldName(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// parseEntity decodes an entity whose header is already read.
func parseEntity(h textproto.MIMEHeader, body []byte, depth int, count *int) *entity {
	*count++
	e := &entity{header: h, mediaType: "text/plain", params: map[string]string{}}
	if ct := h.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil && mt == "" {
			mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
		}
		if mt != "" {
			e.mediaType = mt
		}
		if params != nil {
			e.params = params
		}
	}
	e.body = decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	if depth >= maxDepth || *count >= maxParts {
		return e
	}
	switch {
	case strings.HasPrefix(e.mediaType, "multipart/"):
		boundary := e.params["boundary"]
		if boundary == "" || !bytes.Contains(e.body, []byte("--"+boundary)) {
			// A boundary parameter lost to a broken header (a field run
			// into the Content-Type line) or never written: take the
			// delimiter the body itself uses (RFC 2046 §5.1.1).
			if boundary = guessBoundary(e.body); boundary == "" {
				return e
			}
		}
		mr := multipart.NewReader(bytes.NewReader(e.body), boundary)
		for *count < maxParts {
			p, err := mr.NextRawPart()
			if err != nil {
				break
			}
			b, err := io.ReadAll(io.LimitReader(p, int64(len(e.body))+1))
			if err != nil && len(b) == 0 {
				break
			}
			e.parts = append(e.parts, parseEntity(p.Header, b, depth+1, count))
		}
	case e.mediaType == "message/rfc822", e.mediaType == "message/global":
		if ih, ib, ok := parseHeader(e.body); ok {
			e.parts = append(e.parts, parseEntity(ih, ib, depth+1, count))
		}
	}
	return e
}

// decodeTransfer removes a Content-Transfer-Encoding, keeping what decodes
// when the rest is broken.
func decodeTransfer(cte string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			switch {
			case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '+', r == '/':
				return r
			}
			return -1
		}, body)
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1] // a lone sextet decodes to nothing
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			// Keep the decoded prefix and the undecodable rest as it is.
			return append(out, body[min(len(out), len(body)):]...)
		}
		return out
	}
	return body
}

// walk visits e and its descendants depth first; fn returns false to stop
// descending below an entity.
func (e *entity) walk(fn func(*entity) bool) {
	if !fn(e) {
		return
	}
	for _, p := range e.parts {
		p.walk(fn)
	}
}

// find returns the first entity (depth first, e included) of a media type,
// not descending into attached messages.
func (e *entity) find(mediaType string) *entity {
	var found *entity
	e.walk(func(x *entity) bool {
		if found != nil {
			return false
		}
		if x.mediaType == mediaType {
			found = x
			return false
		}
		return x == e || !strings.HasPrefix(x.mediaType, "message/")
	})
	return found
}

func (e *entity) attachment() bool {
	d, _, _ := mime.ParseMediaType(e.header.Get("Content-Disposition"))
	return d == "attachment"
}

// text returns a text entity's body as UTF-8.
func (e *entity) text() string {
	return toUTF8(e.body, e.params["charset"])
}

func toUTF8(b []byte, label string) string {
	label = strings.ToLower(strings.TrimSpace(label))
	switch label {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
	default:
		if r, err := charset.NewReaderLabel(label, bytes.NewReader(b)); err == nil {
			if out, err := io.ReadAll(r); err == nil {
				b = out
			}
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.NewReaderLabel}

// headerText returns a header field with RFC 2047 encoded words decoded.
func headerText(h textproto.MIMEHeader, name string) string {
	v := h.Get(name)
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		v = d
	}
	return strings.ToValidUTF8(v, "\uFFFD")
}

// bodyText is the message's readable text: the first text/plain that is not
// an attachment, else the first text/html rendered as text. Attached
// messages (forwards, returned originals) are not entered.
func (e *entity) bodyText() (text string, html bool) {
	var plain, htm *entity
	e.walk(func(x *entity) bool {
		if x != e && strings.HasPrefix(x.mediaType, "message/") {
			return false
		}
		if x.attachment() && x != e {
			return false
		}
		switch x.mediaType {
		case "text/plain":
			if plain == nil {
				plain = x
			}
		case "text/html":
			if htm == nil {
				htm = x
			}
		}
		return true
	})
	switch {
	case plain != nil && strings.TrimSpace(plain.text()) != "":
		return plain.text(), false
	case htm != nil:
		return htmlText(htm.text()), true
	case plain != nil:
		return plain.text(), false
	}
	return "", false
}

// msgIDs returns the <...> message identifiers in a header value, in order.
func msgIDs(v string) []string {
	var ids []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		id := v[i : i+j+1]
		v = v[i+j+1:]
		if len(id) > 2 && !strings.ContainsAny(id[1:len(id)-1], " \t<") {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		// Some software writes a bare id-left@id-right.
		if f := strings.Fields(v); len(f) == 1 && strings.Contains(f[0], "@") {
			ids = append(ids, "<"+f[0]+">")
		}
	}
	return ids
}

// guessBoundary returns the delimiter of a multipart body whose header did
// not say it: the first line "--X" (X without white space) that occurs at
// least twice.
func guessBoundary(body []byte) string {
	seen := map[string]bool{}
	for _, line := range bytes.Split(body, []byte("\n")) {
		line = bytes.TrimRight(line, "\r \t")
		if len(line) < 3 || !bytes.HasPrefix(line, []byte("--")) || bytes.ContainsAny(line, " \t") {
			continue
		}
		b := string(bytes.TrimSuffix(line[2:], []byte("--")))
		if seen[b] {
			return b
		}
		seen[b] = true
	}
	return ""
}
