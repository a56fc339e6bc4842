package versionreq

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// position names the part of a comparator being read, in Cargo's words.
type position string

const (
	posMajor position = "major version number"
	posMinor position = "minor version number"
	posPatch position = "patch version number"
	posPre   position = "pre-release identifier"
	posBuild position = "build metadata"
)

// Parse reads a requirement in Cargo's syntax: 1 to 32 comparators joined by
// commas, each an optional operator (= > >= < <= ~ ^) and a version that may
// leave out minor and patch or write them as a wildcard (* x X). No operator
// means caret. "*" alone matches every release. Only U+0020 spaces may
// surround the parts. The grammar and the error wording follow the semver
// crate, with the column added.
func Parse(s string) (*Req, error) {
	p := &parser{in: s}
	p.spaces()
	if p.wildcardAhead() {
		ch := p.in[p.pos]
		p.pos++
		p.spaces()
		switch {
		case p.eof():
			return compile(nil), nil
		case p.in[p.pos] == ',':
			return nil, p.errorf("wildcard req (%c) must be the only comparator in the version req", ch)
		default:
			return nil, p.errorf("unexpected character after wildcard in version req")
		}
	}
	var cs []Comparator
	for {
		start := p.pos
		c, pos, err := p.comparator()
		if err != nil {
			if p.wildcardOnlyAt(start) {
				p.pos = start
				return nil, p.errorf("wildcard req (%c) must be the only comparator in the version req", s[start])
			}
			return nil, err
		}
		cs = append(cs, c)
		if p.eof() {
			return compile(cs), nil
		}
		if p.in[p.pos] != ',' {
			return nil, p.errorf("expected comma after %s, found %s%s", pos, p.quoteNext(), hint(p.in[p.pos]))
		}
		p.pos++
		p.spaces()
		if len(cs) == maxComparators {
			return nil, p.errorf("excessive number of version comparators (at most %d)", maxComparators)
		}
	}
}

type parser struct {
	in  string
	pos int
}

func (p *parser) eof() bool { return p.pos >= len(p.in) }

func (p *parser) spaces() {
	for !p.eof() && p.in[p.pos] == ' ' {
		p.pos++
	}
}

func isWildcard(b byte) bool { return b == '*' || b == 'x' || b == 'X' }

func (p *parser) wildcardAhead() bool { return !p.eof() && isWildcard(p.in[p.pos]) }

// wildcardOnlyAt reports whether the comparator starting at i is a lone
// wildcard, which Cargo reports specially when other comparators follow or
// precede it.
func (p *parser) wildcardOnlyAt(i int) bool {
	if i >= len(p.in) || !isWildcard(p.in[i]) {
		return false
	}
	i++
	for i < len(p.in) && p.in[i] == ' ' {
		i++
	}
	return i == len(p.in) || p.in[i] == ','
}

func (p *parser) errorf(format string, args ...any) error {
	return &Error{Input: p.in, Offset: p.pos, Reason: fmt.Sprintf(format, args...)}
}

// quoteNext quotes the character at the cursor, as Rust's {:?} would.
func (p *parser) quoteNext() string {
	r, _ := utf8.DecodeRuneInString(p.in[p.pos:])
	return fmt.Sprintf("%q", r)
}

// hint explains characters that people bring from other ecosystems.
func hint(b byte) string {
	switch b {
	case '|':
		return ` (Cargo requirements have no "||": write one range, for example ">=1.2, <3")`
	case '-':
		return ` (Cargo requirements have no hyphen ranges: write ">=1.2.3, <=2.3.4")`
	case 'v', 'V':
		return ` (versions take no "v" prefix)`
	case '>', '<', '=', '~', '^':
		return ` (comparators are joined by ",", not by spaces)`
	}
	if '0' <= b && b <= '9' {
		return ` (comparators are joined by ",", not by spaces)`
	}
	return ""
}

// opsLongestFirst lists the written operators so that ">=" is not read as ">".
var opsLongestFirst = []Op{GreaterEq, LessEq, Exact, Greater, Less, Tilde, Caret}

func (p *parser) op() (Op, bool) {
	for _, op := range opsLongestFirst {
		if strings.HasPrefix(p.in[p.pos:], opText[op]) {
			p.pos += len(opText[op])
			return op, true
		}
	}
	return Caret, false
}

// comparator reads one comparator and the spaces after it. It returns the
// last position read, for the "expected comma after ..." message.
func (p *parser) comparator() (Comparator, position, error) {
	var c Comparator
	op, explicit := p.op()
	c.Op = op
	p.spaces()

	pos := posMajor
	major, err := p.number(pos)
	if err != nil {
		return c, pos, err
	}
	c.Major = major

	sawWildcard := false
	if !p.eof() && p.in[p.pos] == '.' {
		p.pos++
		pos = posMinor
		if p.wildcardAhead() {
			p.pos++
			sawWildcard = true
			if !explicit {
				c.Op = Wildcard
			}
		} else {
			n, err := p.number(pos)
			if err != nil {
				return c, pos, err
			}
			c.Minor = &n
		}
	}
	if !p.eof() && p.in[p.pos] == '.' {
		p.pos++
		pos = posPatch
		switch {
		case p.wildcardAhead():
			p.pos++
			if !explicit {
				c.Op = Wildcard
			}
		case sawWildcard:
			return c, pos, p.errorf("unexpected character after wildcard in version req")
		default:
			n, err := p.number(pos)
			if err != nil {
				return c, pos, err
			}
			c.Patch = &n
		}
	}
	if c.Patch != nil && !p.eof() && p.in[p.pos] == '-' {
		p.pos++
		pos = posPre
		pre, err := p.identifier(pos)
		if err != nil {
			return c, pos, err
		}
		if pre == "" {
			return c, pos, p.errorf("empty identifier segment in %s", pos)
		}
		c.Pre = pre
	}
	if c.Patch != nil && !p.eof() && p.in[p.pos] == '+' {
		p.pos++
		pos = posBuild
		build, err := p.identifier(pos)
		if err != nil {
			return c, pos, err
		}
		if build == "" {
			return c, pos, p.errorf("empty identifier segment in %s", pos)
		}
		// Build metadata is accepted and ignored, as Cargo does.
	}
	p.spaces()
	return c, pos, nil
}

func (p *parser) number(pos position) (uint64, error) {
	start := p.pos
	var v uint64
	for !p.eof() {
		d := p.in[p.pos]
		if d < '0' || d > '9' {
			break
		}
		if p.pos > start && v == 0 {
			p.pos = start
			return 0, p.errorf("invalid leading zero in %s", pos)
		}
		if v > (math.MaxUint64-uint64(d-'0'))/10 {
			p.pos = start
			return 0, p.errorf("value of %s exceeds u64::MAX", pos)
		}
		v = v*10 + uint64(d-'0')
		p.pos++
	}
	if p.pos > start {
		return v, nil
	}
	if p.eof() {
		return 0, p.errorf("unexpected end of input while parsing %s", pos)
	}
	return 0, p.errorf("unexpected character %s while parsing %s%s", p.quoteNext(), pos, hint(p.in[p.pos]))
}

// identifier reads dot-separated alphanumeric segments. An empty result with
// no error means there was no identifier at all.
func (p *parser) identifier(pos position) (string, error) {
	start := p.pos
	for {
		segStart := p.pos
		digitsOnly := true
		for !p.eof() {
			b := p.in[p.pos]
			if b >= '0' && b <= '9' {
				p.pos++
				continue
			}
			if (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '-' {
				digitsOnly = false
				p.pos++
				continue
			}
			break
		}
		segLen := p.pos - segStart
		atDot := !p.eof() && p.in[p.pos] == '.'
		if segLen == 0 {
			if p.pos == start && !atDot {
				return "", nil
			}
			return "", p.errorf("empty identifier segment in %s", pos)
		}
		if pos == posPre && segLen > 1 && digitsOnly && p.in[segStart] == '0' {
			p.pos = segStart
			return "", p.errorf("invalid leading zero in %s", pos)
		}
		if !atDot {
			return p.in[start:p.pos], nil
		}
		p.pos++
	}
}
