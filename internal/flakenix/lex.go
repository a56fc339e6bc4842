package flakenix

import (
	"fmt"
	"strings"
)

// Pos is a place in a file, 1-based, in the form editors and compilers
// print: file:line:column.
type Pos struct {
	File      string
	Line, Col int
	Offset    int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tFloat
	tString // "..." or ''...''; val is the decoded text
	tPath   // ./x, /x, ~/x, <x>
	tURI    // an unquoted URI, an old Nix form
	tPunct  // operators and brackets; text says which
)

type token struct {
	kind tokKind
	text string // the source text
	val  string // decoded string contents
	// interp is set for strings with ${...}: Nix would need to evaluate
	// them, which a flake.nix forbids where literals are required.
	interp bool
	pos    Pos
}

// lexer tokenises the whole Nix language, not just the subset a flake.nix
// may use for its metadata, because the reader must step over an outputs
// function of any shape to find the attributes after it.
type lexer struct {
	file string
	src  string
	off  int
	line int
	col  int
	// depth counts the interpolations open ("${" inside a string inside
	// "${" ...), which the lexer reads by recursion.
	depth int
}

// MaxNesting is how deep values may nest in a file the reader reads: sets
// and lists inside one another, and interpolations inside strings. The
// reader recurses once per level, so a file of a few megabytes nested
// millions deep would otherwise exhaust the stack; no flake comes near
// the bound.
const MaxNesting = 256

type syntaxError struct {
	pos Pos
	msg string
}

func (e *syntaxError) Error() string { return e.pos.String() + ": " + e.msg }

func (l *lexer) pos() Pos { return Pos{File: l.file, Line: l.line, Col: l.col, Offset: l.off} }

func (l *lexer) errf(p Pos, format string, args ...any) error {
	return &syntaxError{pos: p, msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) advance(n int) {
	for i := 0; i < n && l.off < len(l.src); i++ {
		if l.src[l.off] == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
		l.off++
	}
}

func (l *lexer) peekByte(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

func (l *lexer) skipSpace() error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.advance(1)
		case c == '#':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance(1)
			}
		case c == '/' && l.peekByte(1) == '*':
			start := l.pos()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				return l.errf(start, "comment is not closed: expected */")
			}
			l.advance(end + 4)
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isIdentChar(c byte) bool {
	return isIdentStart(c) || '0' <= c && c <= '9' || c == '\'' || c == '-'
}
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isPathChar(c byte) bool {
	return isIdentChar(c) || c == '.' || c == '+' || c == '/'
}

var puncts = []string{"...", "${", "//", "++", "==", "!=", "<=", ">=", "&&", "||", "->", "?", ":", ";", ",", ".", "=", "@", "{", "}", "(", ")", "[", "]", "+", "-", "*", "/", "<", ">", "!"}

func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: p}, nil
	}
	rest := l.src[l.off:]
	c := rest[0]
	switch {
	case c == '"':
		return l.string(p)
	case c == '\'' && l.peekByte(1) == '\'':
		return l.indString(p)
	case looksLikePath(rest):
		n := pathLen(rest)
		l.advance(n)
		return token{kind: tPath, text: rest[:n], pos: p}, l.pathInterp(p)
	case c == '<' && isSearchPath(rest):
		n := strings.IndexByte(rest, '>') + 1
		l.advance(n)
		return token{kind: tPath, text: rest[:n], pos: p}, nil
	case isIdentStart(c):
		n := 1
		for n < len(rest) && isIdentChar(rest[n]) {
			n++
		}
		if n+1 < len(rest) && rest[n] == ':' && isURIChar(rest[n+1]) {
			m := n + 1
			for m < len(rest) && isURIChar(rest[m]) {
				m++
			}
			l.advance(m)
			return token{kind: tURI, text: rest[:m], pos: p}, nil
		}
		l.advance(n)
		return token{kind: tIdent, text: rest[:n], pos: p}, nil
	case isDigit(c):
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		kind := tInt
		if n < len(rest) && rest[n] == '.' && n+1 < len(rest) && isDigit(rest[n+1]) {
			kind = tFloat
			n++
			for n < len(rest) && (isDigit(rest[n]) || rest[n] == 'e' || rest[n] == 'E') {
				n++
			}
		}
		l.advance(n)
		return token{kind: kind, text: rest[:n], pos: p}, nil
	}
	for _, op := range puncts {
		if strings.HasPrefix(rest, op) {
			l.advance(len(op))
			return token{kind: tPunct, text: op, pos: p}, nil
		}
	}
	return token{}, l.errf(p, "unexpected character %q", c)
}

func isURIChar(c byte) bool {
	return isIdentChar(c) || strings.IndexByte("~!@$%&*+=/?.,:'", c) >= 0
}

func isSearchPath(s string) bool {
	end := strings.IndexByte(s, '>')
	if end < 2 {
		return false
	}
	for i := 1; i < end; i++ {
		if !isPathChar(s[i]) {
			return false
		}
	}
	return true
}

// looksLikePath reports whether s starts with a Nix path literal: a run of
// path characters containing a slash followed by one, as "./x", "/x", "a/b"
// and "~/x" are.
func looksLikePath(s string) bool {
	if strings.HasPrefix(s, "~/") {
		return true
	}
	n := pathLen(s)
	if n == 0 {
		return false
	}
	i := strings.IndexByte(s[:n], '/')
	return i >= 0 && i+1 < n && s[i+1] != '/' && !strings.HasPrefix(s, "//")
}

func pathLen(s string) int {
	n := 0
	if strings.HasPrefix(s, "~/") {
		n = 1
	}
	for n < len(s) && isPathChar(s[n]) {
		n++
	}
	return n
}

// pathInterp steps over ${...} parts of a path such as ./dir/${name}.
func (l *lexer) pathInterp(start Pos) error {
	for strings.HasPrefix(l.src[l.off:], "${") {
		l.advance(2)
		if err := l.skipInterpolation(start); err != nil {
			return err
		}
		n := pathLen(l.src[l.off:])
		l.advance(n)
	}
	return nil
}

// skipInterpolation consumes tokens up to the "}" that closes a "${".
func (l *lexer) skipInterpolation(start Pos) error {
	l.depth++
	defer func() { l.depth-- }()
	if l.depth > MaxNesting {
		return l.errf(start, "interpolations nested more than %d deep", MaxNesting)
	}
	depth := 1
	for {
		t, err := l.next()
		if err != nil {
			return err
		}
		switch {
		case t.kind == tEOF:
			return l.errf(start, "${ is not closed: expected }")
		case t.kind == tPunct && (t.text == "{" || t.text == "${"):
			depth++
		case t.kind == tPunct && t.text == "}":
			depth--
			if depth == 0 {
				return nil
			}
		}
	}
}

func (l *lexer) string(p Pos) (token, error) {
	l.advance(1)
	var b strings.Builder
	interp := false
	for {
		if l.off >= len(l.src) {
			return token{}, l.errf(p, "string is not closed: expected \"")
		}
		c := l.src[l.off]
		switch {
		case c == '"':
			l.advance(1)
			return token{kind: tString, text: l.src[p.Offset:l.off], val: b.String(), interp: interp, pos: p}, nil
		case c == '\\' && l.off+1 < len(l.src):
			switch e := l.src[l.off+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(e)
			}
			l.advance(2)
		case c == '$' && l.peekByte(1) == '$':
			b.WriteString("$$")
			l.advance(2)
		case c == '$' && l.peekByte(1) == '{':
			interp = true
			l.advance(2)
			if err := l.skipInterpolation(p); err != nil {
				return token{}, err
			}
		default:
			b.WriteByte(c)
			l.advance(1)
		}
	}
}

// indString reads an indented string ”...” and strips its indentation
// as Nix does.
func (l *lexer) indString(p Pos) (token, error) {
	l.advance(2)
	// Spaces and a newline right after the opening '' are not part of the
	// string.
	if n := len(l.src[l.off:]) - len(strings.TrimLeft(l.src[l.off:], " ")); l.peekByte(n) == '\n' {
		l.advance(n + 1)
	}
	var raw []indPart
	var b strings.Builder
	interp := false
	flush := func(escaped bool) {
		if b.Len() > 0 {
			raw = append(raw, indPart{b.String(), escaped})
			b.Reset()
		}
	}
	for {
		if l.off >= len(l.src) {
			return token{}, l.errf(p, "indented string is not closed: expected ''")
		}
		rest := l.src[l.off:]
		switch {
		case strings.HasPrefix(rest, "'''"):
			flush(false)
			raw = append(raw, indPart{"''", true})
			l.advance(3)
		case strings.HasPrefix(rest, "''$"):
			flush(false)
			raw = append(raw, indPart{"$", true})
			l.advance(3)
		case strings.HasPrefix(rest, "''\\") && len(rest) > 3:
			flush(false)
			e := map[byte]string{'n': "\n", 't': "\t", 'r': "\r"}[rest[3]]
			if e == "" {
				e = rest[3:4]
			}
			raw = append(raw, indPart{e, true})
			l.advance(4)
		case strings.HasPrefix(rest, "''"):
			flush(false)
			l.advance(2)
			return token{kind: tString, text: l.src[p.Offset:l.off], val: stripIndent(raw), interp: interp, pos: p}, nil
		case strings.HasPrefix(rest, "$$"):
			b.WriteString("$$")
			l.advance(2)
		case strings.HasPrefix(rest, "${"):
			interp = true
			flush(false)
			// An interpolation counts as content for indentation.
			raw = append(raw, indPart{"\x00", true})
			l.advance(2)
			if err := l.skipInterpolation(p); err != nil {
				return token{}, err
			}
		default:
			b.WriteByte(rest[0])
			l.advance(1)
		}
	}
}

// indPart is a run of an indented string: literal text, or an escape whose
// characters never count as indentation.
type indPart struct {
	s       string
	escaped bool
}

// stripIndent is Nix's stripIndentation. The smallest indentation of the
// lines with content is measured over literal text only (an escape or an
// interpolation is content and does not start a line), then dropped from
// every line, escapes now included; trailing spaces after the last newline
// go.
func stripIndent(parts []indPart) string {
	atStart, cur, minIndent := true, 0, int(^uint(0)>>1)
	for _, p := range parts {
		if p.escaped {
			if atStart {
				atStart = false
				minIndent = min(minIndent, cur)
			}
			continue
		}
		for i := 0; i < len(p.s); i++ {
			switch c := p.s[i]; {
			case atStart && c == ' ':
				cur++
			case atStart && c == '\n':
				cur = 0
			case atStart:
				atStart = false
				minIndent = min(minIndent, cur)
			case c == '\n':
				atStart, cur = true, 0
			}
		}
	}
	var b strings.Builder
	atStart, dropped := true, 0
	for n, p := range parts {
		if p.s == "\x00" && p.escaped {
			atStart, dropped = false, 0
			continue
		}
		var s2 strings.Builder
		for i := 0; i < len(p.s); i++ {
			c := p.s[i]
			switch {
			case atStart && c == ' ':
				if dropped >= minIndent {
					s2.WriteByte(c)
				}
				dropped++
			case atStart && c == '\n':
				dropped = 0
				s2.WriteByte(c)
			case atStart:
				atStart, dropped = false, 0
				s2.WriteByte(c)
			default:
				s2.WriteByte(c)
				if c == '\n' {
					atStart = true
				}
			}
		}
		out := s2.String()
		if n == len(parts)-1 {
			if i := strings.LastIndexByte(out, '\n'); i >= 0 && strings.Trim(out[i+1:], " ") == "" {
				out = out[:i+1]
			}
		}
		b.WriteString(out)
	}
	return b.String()
}
