package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/server"
	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// hub answers FlakeHub's routes. A project (OWNER/PROJECT) is found by
// its name in the indexes its caller sees (index.Layers.LookupProject, after
// flakeref.Project: a forge's owner and repository, or the two path
// segments before a URL's version), and its versions through the gRPC
// server's ListVersions.
type hub struct {
	rpc    pb.ResolverServiceClient
	layers func(context.Context) *index.Layers
	minNix flakeref.NixVersion
}

// Redirect is the status of a requirement URL's answer. 302, as FlakeHub
// answers: Nix follows any redirect (curl's FOLLOWLOCATION), and reads the
// Link header of every response on the way, keeping the last immutable
// one; the redirect's own header is the one it gets.
const Redirect = http.StatusFound

// redirect answers /f/{owner}/{project}/{requirement}[.tar.gz]: a redirect
// to the pinned tarball of the newest version that matches, with
//
//	Link: <TARBALL?rev=…&revCount=…&lastModified=…&narHash=…>; rel="immutable"
//
// which Nix 2.13.5 and later record in the lock instead of the URL they
// were given (Nix 2.8 ignores it and records the requirement URL). The
// attributes are those the lock writer records for the hub's MinNix
// (lockfile.LockedFor), so a lock Nix writes from the header and one
// flakeresolve lock writes agree.
func (h *hub) redirect(w http.ResponseWriter, r *http.Request) {
	name, req, ok := h.target(w, r)
	if !ok {
		return
	}
	resp, err := h.rpc.ListVersions(r.Context(), &pb.ListVersionsRequest{Parent: "flakes/" + name, Requirement: req, PageSize: 1})
	if err != nil {
		writeStatus(w, status.Convert(err))
		return
	}
	if len(resp.Versions) == 0 {
		writeStatus(w, h.noVersion(r, name, resp.Requirement))
		return
	}
	v := resp.Versions[0]
	locked, err := lockfile.LockedFor(&pb.FlakeRef{Type: "tarball", Url: r.URL.String()}, v.Locked, "", h.minNix)
	if err != nil || locked.Type != "tarball" {
		writeStatus(w, withInfo(codes.FailedPrecondition, pb.ErrorReason_NO_TARBALL,
			map[string]string{"flake": name, "version": v.Version, "type": v.Locked.GetType()},
			"%s %s is a %s tree (%s), which no tarball URL serves; a requirement URL can only redirect to a pinned tarball", name, v.Version, v.Locked.GetType(), flakeref.LockedURL(v.Locked)))
		return
	}
	w.Header().Set("Link", Link(locked))
	w.Header().Set("Cache-Control", "no-cache")
	http.Redirect(w, r, locked.Url, Redirect)
}

// Link is the Link header of a pinned tarball: its URL with every other
// attribute of the locked set as a query parameter, which Nix reads back
// into the lock's attributes (and removes from the URL).
func Link(locked *pb.FlakeRef) string {
	// In the order Nix's manual shows them, rather than url.Values's
	// sorted one.
	var params []string
	if locked.Rev != "" {
		params = append(params, "rev="+url.QueryEscape(locked.Rev))
	}
	if locked.RevCount > 0 {
		params = append(params, "revCount="+strconv.FormatInt(locked.RevCount, 10))
	}
	if locked.LastModified > 0 {
		params = append(params, "lastModified="+strconv.FormatInt(locked.LastModified, 10))
	}
	if locked.NarHash != "" {
		params = append(params, "narHash="+url.QueryEscape(locked.NarHash))
	}
	sep := "?"
	if strings.Contains(locked.Url, "?") {
		sep = "&"
	}
	return "<" + locked.Url + sep + strings.Join(params, "&") + `>; rel="immutable"`
}

// target reads a requirement URL's flake and requirement, or answers the
// error itself. The requirement is percent-decoded once by the router and
// once more if it still holds an escape: fh escapes it before its URL
// library escapes the segment again, and a requirement has no "%" of its
// own.
func (h *hub) target(w http.ResponseWriter, r *http.Request) (name, req string, ok bool) {
	f, err := h.layers(r.Context()).LookupProject(r.PathValue("owner"), r.PathValue("project"))
	if err != nil {
		writeStatus(w, server.Status(err))
		return "", "", false
	}
	req = strings.TrimSuffix(r.PathValue("requirement"), ".tar.gz")
	if strings.Contains(req, "%") {
		if again, err := url.PathUnescape(req); err == nil {
			req = again
		}
	}
	if req == "" {
		writeStatus(w, server.Status(&service.FieldError{Field: "requirement", Msg: "empty; expected a version requirement such as ^1.0, 1.2.* or *", Requirement: true}))
		return "", "", false
	}
	return f.Name, req, true
}

// noVersion is the status of a requirement that no version matches,
// naming the newest versions there are.
func (h *hub) noVersion(r *http.Request, name, req string) *status.Status {
	newest := "none"
	all, err := h.rpc.ListVersions(r.Context(), &pb.ListVersionsRequest{Parent: "flakes/" + name, PageSize: 5})
	if err == nil && len(all.Versions) > 0 {
		var vs []string
		for _, v := range all.Versions {
			vs = append(vs, v.Version)
		}
		newest = strings.Join(vs, ",")
	}
	return withInfo(codes.NotFound, pb.ErrorReason_VERSION_NOT_FOUND, map[string]string{"flake": name, "requirement": req, "versions": newest},
		"no version of %s matches %s (its newest releases: %s)", name, req, strings.ReplaceAll(newest, ",", ", "))
}

func withInfo(code codes.Code, reason pb.ErrorReason, metadata map[string]string, format string, args ...any) *status.Status {
	st, err := status.New(code, fmt.Sprintf(format, args...)).WithDetails(&errdetails.ErrorInfo{Reason: reason.String(), Domain: server.Domain, Metadata: metadata})
	if err != nil {
		panic(err) // an ErrorInfo always marshals
	}
	return st
}

// Release is one entry of /f/{owner}/{project}/releases, as FlakeHub
// shapes it (fh's Release).
type Release struct {
	SimplifiedVersion string  `json:"simplified_version"`
	Version           string  `json:"version"`
	Revision          string  `json:"revision"`
	PublishedAt       *string `json:"published_at"`
	UpdatedAt         *string `json:"updated_at"`
	CommitCount       *int64  `json:"commit_count"`
}

// MatchingVersion is one entry of /version/resolve/...: fh's Version.
type MatchingVersion struct {
	Version           string `json:"version"`
	SimplifiedVersion string `json:"simplified_version"`
}

// releases answers /f/{owner}/{project}/releases: every release, newest
// first. (A prerelease is left out: no requirement but its own admits it.)
// published_at and updated_at are the commit time, when known.
func (h *hub) releases(w http.ResponseWriter, r *http.Request) {
	f, err := h.layers(r.Context()).LookupProject(r.PathValue("owner"), r.PathValue("project"))
	if err != nil {
		writeStatus(w, server.Status(err))
		return
	}
	versions, st := h.all(r, f.Name, "*")
	if st != nil {
		writeStatus(w, st)
		return
	}
	out := make([]Release, 0, len(versions))
	for _, v := range versions {
		rel := Release{SimplifiedVersion: simplified(v.Version), Version: v.Version, Revision: v.Locked.GetRev()}
		if t := v.Locked.GetLastModified(); t > 0 {
			at := time.Unix(t, 0).UTC().Format(time.RFC3339)
			rel.PublishedAt, rel.UpdatedAt = &at, &at
		}
		if n := v.Locked.GetRevCount(); n > 0 {
			rel.CommitCount = &n
		}
		out = append(out, rel)
	}
	writeJSON(w, out)
}

// resolve answers /version/resolve/{owner}/{project}/{requirement}: the
// versions that match, newest first.
func (h *hub) resolve(w http.ResponseWriter, r *http.Request) {
	name, req, ok := h.target(w, r)
	if !ok {
		return
	}
	versions, st := h.all(r, name, req)
	if st != nil {
		writeStatus(w, st)
		return
	}
	out := make([]MatchingVersion, 0, len(versions))
	for _, v := range versions {
		out = append(out, MatchingVersion{Version: v.Version, SimplifiedVersion: simplified(v.Version)})
	}
	writeJSON(w, out)
}

// all lists every matching version, page by page.
func (h *hub) all(r *http.Request, name, req string) ([]*pb.FlakeVersion, *status.Status) {
	var out []*pb.FlakeVersion
	call := &pb.ListVersionsRequest{Parent: "flakes/" + name, Requirement: req, PageSize: service.MaxPageSize}
	for {
		resp, err := h.rpc.ListVersions(r.Context(), call)
		if err != nil {
			return nil, status.Convert(err)
		}
		out = append(out, resp.Versions...)
		if resp.NextPageToken == "" {
			return out, nil
		}
		call.PageToken = resp.NextPageToken
	}
}

// simplified is a version without its build metadata, as FlakeHub's
// simplified_version drops "+rev-…".
func simplified(v string) string {
	s, _, _ := strings.Cut(v, "+")
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeStatus(w, status.New(codes.Internal, err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}
