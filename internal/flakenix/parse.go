package flakenix

import (
	"fmt"
	"strconv"
	"strings"
)

// node is a parsed value from the literal part of a flake.nix.
type node struct {
	pos  Pos
	kind nodeKind
	str  string
	num  int64
	b    bool
	// attrs keeps names in source order and where each was defined, for
	// "already defined at" errors and for edits.
	names []string
	attrs map[string]*node
	// namePos is where each attribute's binding starts.
	namePos map[string]Pos
	// implicit marks a set made by a dotted path (inputs.a.url = ...);
	// Nix merges into those and into literal sets alike.
	implicit bool
	list     []*node
	// formals are the argument names of an outputs function.
	formals []string
	// what says what a value that is not a literal is, for errors.
	what string
	// end is where the value ends, for edits after it.
	end Pos
}

type nodeKind int

const (
	nString nodeKind = iota
	nInt
	nBool
	nNull
	nAttrs
	nList
	nLambda
	nOther
)

func (n *node) describe() string {
	switch n.kind {
	case nString:
		return "a string"
	case nInt:
		return "an integer"
	case nBool:
		return "a Boolean"
	case nNull:
		return "null"
	case nAttrs:
		return "a set"
	case nList:
		return "a list"
	case nLambda:
		return "a function"
	}
	return n.what
}

// toJSON renders the value as `nix-instantiate --eval --json --strict`
// prints it.
func (n *node) toJSON() any {
	switch n.kind {
	case nString:
		return n.str
	case nInt:
		return n.num
	case nBool:
		return n.b
	case nAttrs:
		m := map[string]any{}
		for k, v := range n.attrs {
			m[k] = v.toJSON()
		}
		return m
	case nList:
		l := make([]any, len(n.list))
		for i, v := range n.list {
			l[i] = v.toJSON()
		}
		return l
	}
	return nil
}

type parser struct {
	lex    *lexer
	tok    token
	peeked bool
	// depth counts the values being read, one inside another.
	depth int
}

func (p *parser) peek() (token, error) {
	if !p.peeked {
		t, err := p.lex.next()
		if err != nil {
			return t, err
		}
		p.tok, p.peeked = t, true
	}
	return p.tok, nil
}

func (p *parser) next() (token, error) {
	t, err := p.peek()
	p.peeked = false
	return t, err
}

func (p *parser) expect(text string, context string) (token, error) {
	t, err := p.next()
	if err != nil {
		return t, err
	}
	if t.kind != tPunct || t.text != text {
		return t, p.lex.errf(t.pos, "expected %q %s, found %s", text, context, describeTok(t))
	}
	return t, nil
}

func describeTok(t token) string {
	switch t.kind {
	case tEOF:
		return "the end of the file"
	case tString:
		return "a string"
	case tInt, tFloat:
		return "the number " + t.text
	case tIdent:
		return fmt.Sprintf("%q", t.text)
	case tPath:
		return "the path " + t.text
	case tURI:
		return "the unquoted URL " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// parseFile reads the top-level attribute set.
func (p *parser) parseFile() (*node, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if !(t.kind == tPunct && t.text == "{") && !(t.kind == tIdent && t.text == "rec") {
		return nil, p.lex.errf(t.pos, "a flake.nix must be a literal attribute set { ... }, found %s", describeTok(t))
	}
	n, err := p.parseValue(true)
	if err != nil {
		return nil, err
	}
	if t, err := p.next(); err != nil {
		return nil, err
	} else if t.kind != tEOF {
		return nil, p.lex.errf(t.pos, "expected the end of the file after the attribute set, found %s", describeTok(t))
	}
	return n, nil
}

// parseValue reads one value. Literals become nodes; a function (the
// outputs) records its formals and steps over its body; anything else is
// stepped over and described, so that the caller can say what Nix expects
// there instead.
func (p *parser) parseValue(top bool) (*node, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > MaxNesting {
		return nil, p.lex.errf(t.pos, "values nested more than %d deep (sets and lists inside one another)", MaxNesting)
	}
	switch {
	case t.kind == tString:
		p.next()
		if t.interp {
			return &node{pos: t.pos, kind: nOther, what: "a string with ${...} interpolation"}, p.skipRest()
		}
		return p.finish(&node{pos: t.pos, kind: nString, str: t.val})
	case t.kind == tInt:
		p.next()
		v, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, p.lex.errf(t.pos, "integer %s is out of range", t.text)
		}
		return p.finish(&node{pos: t.pos, kind: nInt, num: v})
	case t.kind == tIdent && (t.text == "true" || t.text == "false"):
		p.next()
		return p.finish(&node{pos: t.pos, kind: nBool, b: t.text == "true"})
	case t.kind == tIdent && t.text == "null":
		p.next()
		return p.finish(&node{pos: t.pos, kind: nNull})
	case t.kind == tIdent && t.text == "rec":
		p.next()
		if _, err := p.expect("{", "after rec"); err != nil {
			return nil, err
		}
		return p.parseAttrs(t.pos)
	case t.kind == tPunct && t.text == "[":
		return p.parseList()
	case t.kind == tPunct && t.text == "{":
		p.next()
		if p.isFormals() {
			return p.parseLambda(t.pos, "")
		}
		return p.parseAttrs(t.pos)
	case t.kind == tIdent:
		p.next()
		if nt, err := p.peek(); err == nil && nt.kind == tPunct && (nt.text == ":" || nt.text == "@") {
			return p.parseLambda(t.pos, t.text)
		}
		return &node{pos: t.pos, kind: nOther, what: fmt.Sprintf("an expression (%s ...)", t.text)}, p.skipRest()
	case t.kind == tPath:
		p.next()
		return &node{pos: t.pos, kind: nOther, what: "a path"}, p.skipRest()
	case t.kind == tFloat:
		p.next()
		return &node{pos: t.pos, kind: nOther, what: "a float"}, p.skipRest()
	case t.kind == tURI:
		p.next()
		return &node{pos: t.pos, kind: nOther, what: "an unquoted URL"}, p.skipRest()
	}
	return &node{pos: t.pos, kind: nOther, what: "an expression"}, p.skipRest()
}

// finish checks that a literal is the whole value: "a" + "b" or
// { ... } // { ... } is an expression, which Nix would have to evaluate.
func (p *parser) finish(n *node) (*node, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind == tPunct && t.text != ";" && t.text != "}" && t.text != "]" {
		return &node{pos: n.pos, kind: nOther, what: "an expression"}, p.skipRest()
	}
	n.end = t.pos
	return n, nil
}

// isFormals tells a function's argument set ("{ self, nixpkgs, ... }:")
// from an attribute set, after the "{".
func (p *parser) isFormals() bool {
	// Look ahead on a copy of the lexer; the parser's own state stays.
	save, saveTok, savePeeked := *p.lex, p.tok, p.peeked
	defer func() { *p.lex, p.tok, p.peeked = save, saveTok, savePeeked }()
	t, err := p.next()
	if err != nil {
		return false
	}
	if t.kind == tPunct && t.text == "}" {
		n, err := p.next()
		return err == nil && n.kind == tPunct && (n.text == ":" || n.text == "@")
	}
	if t.kind == tPunct && t.text == "..." {
		return true
	}
	if t.kind != tIdent {
		return false
	}
	n, err := p.next()
	return err == nil && n.kind == tPunct && (n.text == "," || n.text == "?" || n.text == "}")
}

func (p *parser) parseLambda(pos Pos, arg string) (*node, error) {
	n := &node{pos: pos, kind: nLambda}
	if arg != "" {
		t, _ := p.next() // the ":" or "@" the caller peeked; it cannot fail
		if t.text == ":" {
			return n, p.skipBody(n)
		}
		if _, err := p.expect("{", "after @ in the function's arguments"); err != nil {
			return nil, err
		}
	}
	// Formals; "{" is consumed.
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tPunct && t.text == "}" {
			break
		}
		if t.kind == tPunct && t.text == "..." {
			continue
		}
		if t.kind == tPunct && t.text == "," {
			continue
		}
		if t.kind != tIdent {
			return nil, p.lex.errf(t.pos, "expected an argument name, found %s", describeTok(t))
		}
		n.formals = append(n.formals, t.text)
		if nt, _ := p.peek(); nt.kind == tPunct && nt.text == "?" {
			p.next()
			if err := p.skipDefault(); err != nil {
				return nil, err
			}
		}
	}
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	if t.kind == tPunct && t.text == "@" {
		if t, err = p.next(); err != nil {
			return nil, err
		}
		if t.kind != tIdent {
			return nil, p.lex.errf(t.pos, "expected a name after @, found %s", describeTok(t))
		}
		if t, err = p.next(); err != nil {
			return nil, err
		}
	}
	if t.kind != tPunct || t.text != ":" {
		return nil, p.lex.errf(t.pos, "expected \":\" after the function's arguments, found %s", describeTok(t))
	}
	return n, p.skipBody(n)
}

func (p *parser) skipBody(n *node) error {
	err := p.skipRest()
	t, _ := p.peek()
	n.end = t.pos
	return err
}

// skipDefault steps over a default value in a function's arguments, up to
// the "," or "}" that ends it.
func (p *parser) skipDefault() error {
	depth := 0
	for {
		t, err := p.peek()
		if err != nil {
			return err
		}
		if t.kind == tEOF {
			return p.lex.errf(t.pos, "unexpected end of file in a default value")
		}
		if t.kind == tPunct {
			switch t.text {
			case "{", "${", "(", "[":
				depth++
			case ")", "]":
				depth--
			case "}":
				if depth == 0 {
					return nil
				}
				depth--
			case ",":
				if depth == 0 {
					return nil
				}
			}
		}
		p.next()
	}
}

// skipRest steps over the rest of an expression of any shape, up to the
// ";" that ends the binding it is the value of, leaving that ";" (or the
// "}" or "]" that closes the enclosing set or list) unread. A ";" ends the
// binding only outside brackets, and not when it belongs to a let's
// bindings or to a "with e;" or "assert e;".
func (p *parser) skipRest() error {
	var stack []string
	pendingSemis := 0
	for {
		t, err := p.peek()
		if err != nil {
			return err
		}
		if t.kind == tEOF {
			if len(stack) > 0 {
				return p.lex.errf(t.pos, "unexpected end of file: %q is not closed", stack[len(stack)-1])
			}
			return nil
		}
		if len(stack) == 0 && t.kind == tPunct && (t.text == "}" || t.text == "]" || t.text == ")") {
			return nil
		}
		if len(stack) == 0 && pendingSemis == 0 && t.kind == tPunct && t.text == ";" {
			return nil
		}
		p.next()
		switch {
		case t.kind == tPunct && (t.text == "{" || t.text == "${"):
			stack = append(stack, "{")
		case t.kind == tPunct && t.text == "(":
			stack = append(stack, "(")
		case t.kind == tPunct && t.text == "[":
			stack = append(stack, "[")
		case t.kind == tIdent && t.text == "let":
			stack = append(stack, "let")
		case t.kind == tIdent && t.text == "in" && len(stack) > 0 && stack[len(stack)-1] == "let":
			stack = stack[:len(stack)-1]
		case t.kind == tPunct && (t.text == "}" || t.text == ")" || t.text == "]"):
			want := map[string]string{"}": "{", ")": "(", "]": "["}[t.text]
			if len(stack) == 0 || stack[len(stack)-1] != want {
				return p.lex.errf(t.pos, "unexpected %q", t.text)
			}
			stack = stack[:len(stack)-1]
		case t.kind == tIdent && (t.text == "with" || t.text == "assert") && len(stack) == 0:
			pendingSemis++
		case t.kind == tPunct && t.text == ";" && len(stack) == 0:
			pendingSemis--
		}
	}
}

func (p *parser) parseList() (*node, error) {
	open, _ := p.next()
	n := &node{pos: open.pos, kind: nList}
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if t.kind == tPunct && t.text == "]" {
			p.next()
			return p.finish(n)
		}
		if t.kind == tEOF {
			return nil, p.lex.errf(open.pos, "list is not closed: expected ]")
		}
		v, err := p.parseValue(false)
		if err != nil {
			return nil, err
		}
		if v.kind == nOther {
			return nil, p.lex.errf(v.pos, "%s in a list: Nix needs literal values here", v.what)
		}
		n.list = append(n.list, v)
	}
}

// parseAttrs reads bindings after "{" up to the matching "}".
func (p *parser) parseAttrs(pos Pos) (*node, error) {
	n := &node{pos: pos, kind: nAttrs, attrs: map[string]*node{}}
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		switch {
		case t.kind == tPunct && t.text == "}":
			return p.finish(n)
		case t.kind == tEOF:
			return nil, p.lex.errf(pos, "attribute set is not closed: expected }")
		case t.kind == tIdent && t.text == "inherit":
			return nil, p.lex.errf(t.pos, "inherit is not allowed here: Nix reads a flake's metadata without evaluating it, so values must be literals")
		}
		path, poss, err := p.parseAttrPath(t)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect("=", "after the attribute name "+strings.Join(path, ".")); err != nil {
			return nil, err
		}
		v, err := p.parseValue(false)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(";", "after the value of "+strings.Join(path, ".")); err != nil {
			return nil, err
		}
		if err := p.bind(n, path, poss, v); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseAttrPath(first token) ([]string, []Pos, error) {
	var path []string
	var poss []Pos
	t := first
	for {
		switch {
		case t.kind == tIdent:
			path = append(path, t.text)
		case t.kind == tString && !t.interp:
			path = append(path, t.val)
		case t.kind == tString || t.kind == tPunct && t.text == "${":
			return nil, nil, p.lex.errf(t.pos, "attribute names computed with ${...} are not allowed in a flake.nix's metadata")
		default:
			return nil, nil, p.lex.errf(t.pos, "expected an attribute name, found %s", describeTok(t))
		}
		poss = append(poss, t.pos)
		nt, err := p.peek()
		if err != nil {
			return nil, nil, err
		}
		if nt.kind != tPunct || nt.text != "." {
			return path, poss, nil
		}
		p.next()
		if t, err = p.next(); err != nil {
			return nil, nil, err
		}
	}
}

// bind sets path to v in n, merging dotted paths into sets as Nix does.
func (p *parser) bind(n *node, path []string, poss []Pos, v *node) error {
	cur := n
	for i, name := range path {
		last := i == len(path)-1
		existing, ok := cur.attrs[name]
		if !ok {
			if cur.namePos == nil {
				cur.namePos = map[string]Pos{}
			}
			cur.namePos[name] = poss[0]
			if last {
				cur.attrs[name] = v
			} else {
				existing = &node{pos: poss[i], kind: nAttrs, attrs: map[string]*node{}, implicit: true}
				cur.attrs[name] = existing
			}
			cur.names = append(cur.names, name)
			if last {
				return nil
			}
			cur = existing
			continue
		}
		if last && v.kind == nAttrs && existing.kind == nAttrs {
			// { a.b = 1; a = { c = 2; }; } merges too.
			for _, k := range v.names {
				if err := p.bind(existing, []string{k}, []Pos{v.attrs[k].pos}, v.attrs[k]); err != nil {
					return err
				}
			}
			return nil
		}
		if last || existing.kind != nAttrs {
			return p.lex.errf(poss[i], "attribute '%s' already defined at %s", strings.Join(path[:i+1], "."), existing.pos)
		}
		cur = existing
	}
	return nil
}
