package flakeref

import (
	"strconv"

	"google.golang.org/protobuf/proto"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// LockedURL renders a lock file's locked reference as Nix 2.8 does
// (FlakeRef::to_string over its fetchers' toURL), which is what its lock
// file diffs print. It is not String, which renders a declaration: 2.8
// drops a forge's host, adds a tarball's narHash, writes git's shallow only
// when set and never submodules, and gives a path every attribute it has.
func LockedURL(s *pb.Source) string {
	t, known := LookupType(s.Type)
	if !known {
		return String(s)
	}
	var u *parsedURL
	switch t.Kind {
	case KindForge:
		// OWNER/REPO/REV as a declaration writes it, without the host:
		// 2.8's GitArchiveInputScheme::toURL never writes one.
		bare := proto.Clone(s).(*pb.Source)
		bare.Host, bare.Dir = "", ""
		u, _, _ = parseURL(String(bare))
	case KindRepository, KindDownload:
		base, _, err := parseURL(s.Url)
		if err != nil {
			return String(s)
		}
		u = base
		if t.Kind == KindRepository && u.scheme != s.Type {
			u.scheme = s.Type + "+" + u.scheme
		}
		set := func(k, v string) {
			if v != "" {
				u.query[k] = v
			}
		}
		if t.Kind == KindRepository {
			set("rev", s.Rev)
			set("ref", s.Ref)
			if s.Shallow != nil && *s.Shallow && s.Type == "git" {
				u.query["shallow"] = "1"
			}
		} else {
			set("narHash", s.NarHash)
		}
	case KindPath:
		// Every attribute but path and type, as attrsToQuery gives them.
		u = &parsedURL{scheme: "path", path: s.Path, query: map[string]string{}}
		for k, v := range Attrs(s) {
			switch x := v.(type) {
			case string:
				u.query[k] = x
			case int64:
				u.query[k] = strconv.FormatInt(x, 10)
			}
		}
		delete(u.query, "type")
		delete(u.query, "path")
	default:
		return String(s)
	}
	// FlakeRef::to_string adds the subdirectory without replacing a dir
	// the URL already has.
	if _, ok := u.query["dir"]; !ok && s.Dir != "" {
		if u.query == nil {
			u.query = map[string]string{}
		}
		u.query["dir"] = s.Dir
	}
	return u.String()
}
