package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/flakeresolve/flakeresolve/internal/server"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// replicas starts n `serve` processes with the same arguments.
func replicas(t *testing.T, n int, args ...string) []*serverProc {
	t.Helper()
	var out []*serverProc
	for range n {
		out = append(out, startServer(t, args...))
	}
	return out
}

func addrs(ps []*serverProc) string {
	var a []string
	for _, p := range ps {
		a = append(a, p.addr)
	}
	return strings.Join(a, ",")
}

// loadResult is what a load run saw: every call's outcome, latency and
// the replica (peer) that answered.
type loadResult struct {
	mu        sync.Mutex
	calls     int
	failures  []error
	latencies []timed
	byPeer    map[string]int
	done      chan struct{}
}

// timed is one call: when it started and how long it took.
type timed struct {
	start time.Time
	took  time.Duration
}

// p99 is the 99th percentile latency of the calls that started in
// [from, to), and how many there were.
func (r *loadResult) p99(from, to time.Time) (time.Duration, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var l []time.Duration
	for _, c := range r.latencies {
		if !c.start.Before(from) && c.start.Before(to) {
			l = append(l, c.took)
		}
	}
	slices.Sort(l)
	if len(l) == 0 {
		return 0, 0
	}
	return l[len(l)*99/100], len(l)
}

// load calls ListVersions from workers goroutines through c until stop
// closes, or for at most limit calls each (the run is bounded either way).
func load(c *server.Client, workers, limit int, stop <-chan struct{}) *loadResult {
	r := &loadResult{byPeer: map[string]int{}, done: make(chan struct{})}
	rpc := pb.NewResolverServiceClient(c.Conn())
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range limit {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var p peer.Peer
				start := time.Now()
				_, err := rpc.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "^0.8"}, grpc.Peer(&p))
				took := time.Since(start)
				cancel()
				r.mu.Lock()
				r.calls++
				r.latencies = append(r.latencies, timed{start, took})
				if err != nil {
					r.failures = append(r.failures, err)
				} else if p.Addr != nil {
					r.byPeer[p.Addr.String()]++
				}
				r.mu.Unlock()
			}
		})
	}
	go func() { wg.Wait(); close(r.done) }()
	return r
}

// killUnderLoad runs load through c, SIGKILLs the first replica in the
// middle of it, and says what the load saw (how many answers each peer,
// a replica or a proxy, gave); no call may fail.
func killUnderLoad(t *testing.T, c *server.Client, ps []*serverProc) map[string]int {
	stop := make(chan struct{})
	r := load(c, 16, 5000, stop)
	time.Sleep(700 * time.Millisecond)
	r.mu.Lock()
	before := r.calls
	r.mu.Unlock()
	if err := ps[0].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	<-r.done
	steady, _ := r.p99(time.Time{}, killed.Add(-100*time.Millisecond))
	during, n := r.p99(killed.Add(-100*time.Millisecond), killed.Add(500*time.Millisecond))
	t.Logf("calls %d (%d before the kill), failed %d; p99 %v before the kill, %v of the %d calls started from 100ms before to 500ms after it; by peer %v",
		r.calls, before, len(r.failures), steady, during, n, r.byPeer)
	if len(r.failures) > 0 {
		t.Errorf("%d of %d calls failed; first: %v", len(r.failures), r.calls, r.failures[0])
	}
	if r.calls <= before {
		t.Errorf("no call was answered after the kill (%d calls, %d before)", r.calls, before)
	}
	return r.byPeer
}

// TestReplicasFailoverClientRoundRobin: a client given three replicas
// spreads its calls over all of them, and loses none when one is killed.
func TestReplicasFailoverClientRoundRobin(t *testing.T) {
	ps := replicas(t, 3)
	c, err := server.Dial(addrs(ps), server.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	byPeer := killUnderLoad(t, c, ps)
	for _, p := range ps {
		if byPeer[p.addr] == 0 {
			t.Errorf("replica %s answered no call; round_robin should spread them (%v)", p.addr, byPeer)
		}
	}
}

// TestReplicasFailoverNginx: the same through nginx's grpc_pass, with the
// committed deploy/nginx/nginx.conf pointed at the test's replicas.
func TestReplicasFailoverNginx(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nginx is missing; .ci/deps installs it")
		}
		t.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	ps := replicas(t, 3)
	listen := freePort(t)
	conf := nginxConf(t, listen, ps)
	cmd := exec.Command(nginx, "-p", filepath.Dir(filepath.Dir(filepath.Dir(conf))), "-c", conf, "-g", "daemon off; master_process off;")
	var logged strings.Builder
	cmd.Stderr = &logged
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, listen)

	c, err := server.Dial(listen, server.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	killUnderLoad(t, c, ps)
}

// nginxConf is the committed configuration with the test's addresses: it
// listens on listen and balances over the replicas.
func nginxConf(t *testing.T, listen string, ps []*serverProc) string {
	data, err := os.ReadFile("../../deploy/nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(data)
	for i, p := range ps {
		from := fmt.Sprintf("server 127.0.0.1:%d ", 50051+i)
		if !strings.Contains(conf, from) {
			t.Fatalf("deploy/nginx/nginx.conf has no %q", from)
		}
		conf = strings.Replace(conf, from, "server "+p.addr+" ", 1)
	}
	if !strings.Contains(conf, "listen 127.0.0.1:50050 ") {
		t.Fatal("deploy/nginx/nginx.conf does not listen on 127.0.0.1:50050")
	}
	conf = strings.Replace(conf, "listen 127.0.0.1:50050 ", "listen "+listen+" ", 1)
	path := filepath.Join(t.TempDir(), "deploy", "nginx", "nginx.conf")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// snapshotStore serves one index file from disk with an ETag of its
// content, as an object store or a CDN does.
func snapshotStore(t *testing.T, path string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		sum := sha256.Sum256(data)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("X-Checksum-Sha256", hex.EncodeToString(sum[:]))
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(data)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(path)
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// digestOf asks a replica which digest it serves, from the header of a
// health check.
func digestOf(ctx context.Context, rpc pb.ResolverServiceClient) (string, int, error) {
	var md metadata.MD
	resp, err := rpc.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "*"}, grpc.Header(&md))
	if err != nil {
		return "", 0, err
	}
	d := md.Get(server.IndexDigestKey)
	if len(d) != 1 {
		return "", 0, fmt.Errorf("header %s = %v; want one digest", server.IndexDigestKey, d)
	}
	return d[0], len(resp.Versions), nil
}

// session lists hyprutils's versions through c, a call every 5ms, until
// stop closes (at most 2000 calls), and hands each outcome with its
// response header to check.
func session(c *server.Client, stop <-chan struct{}, check func(*pb.ListVersionsResponse, metadata.MD, error)) {
	rpc := pb.NewResolverServiceClient(c.Conn())
	for range 2000 {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var md metadata.MD
		resp, err := rpc.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "*"}, grpc.Header(&md))
		cancel()
		check(resp, md, err)
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReplicasSnapshotRoll: three replicas poll one snapshot URL. When
// the file changes, each serves the new digest within one poll interval
// (plus a fetch); a session pinned to the old digest gets answers only
// from it, and refusals naming both digests once no replica serves it;
// an unpinned call's answer is always the index its header names.
func TestReplicasSnapshotRoll(t *testing.T) {
	const poll = time.Second
	small, err := os.ReadFile("../../index/testdata/small.json")
	if err != nil {
		t.Fatal(err)
	}
	// The new snapshot drops hyprutils 0.10.2, so answers tell the two
	// apart by content as well as by header.
	changed := regexp.MustCompile(`(?s),\s*\{"version": "0\.10\.2".*?"lastModified": 1753000000\}\}`).ReplaceAll(small, nil)
	if len(changed) == len(small) {
		t.Fatal("the test's edit of small.json no longer applies")
	}
	file := filepath.Join(t.TempDir(), "index.json")
	if err := os.WriteFile(file, small, 0o644); err != nil {
		t.Fatal(err)
	}
	url := snapshotStore(t, file)
	oldDigest, newDigest := sha256Hex(small), sha256Hex(changed)
	ps := replicas(t, 3, "--index", url, "--index-poll", poll.String())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	versions := map[string]int{}
	var direct []pb.ResolverServiceClient
	for _, p := range ps {
		rpc := pb.NewResolverServiceClient(dial(t, p.addr))
		d, n, err := digestOf(ctx, rpc)
		if err != nil || d != oldDigest {
			t.Fatalf("replica %s serves %s, %v; want the file's sha256sum %s", p.addr, d, err, oldDigest)
		}
		versions[d] = n
		direct = append(direct, rpc)
	}

	pinned, err := server.Dial(addrs(ps), server.ClientOptions{IndexDigest: oldDigest})
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()
	free, err := server.Dial(addrs(ps), server.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer free.Close()

	// Sessions call throughout the roll.
	var (
		stop               = make(chan struct{})
		wg                 sync.WaitGroup
		pinnedOld, refused atomic.Int32
		wrong              = make(chan string, 100)
		unpinnedOK         atomic.Int32
		unpinnedBy         sync.Map // answer{digest, versions listed}
	)
	type answer struct {
		digest string
		n      int
	}
	for range 4 {
		wg.Go(func() {
			session(pinned, stop, func(_ *pb.ListVersionsResponse, md metadata.MD, err error) {
				got := md.Get(server.IndexDigestKey)
				info := detail[*errdetails.ErrorInfo](err)
				switch {
				case err == nil && slices.Equal(got, []string{oldDigest}):
					pinnedOld.Add(1)
				case err == nil:
					wrong <- fmt.Sprintf("pinned to %s, answered by %v", oldDigest, got)
				case status.Code(err) == codes.FailedPrecondition && info.GetReason() == "INDEX_CHANGED" &&
					info.Metadata["wanted"] == oldDigest && info.Metadata["served"] == newDigest:
					refused.Add(1)
				default:
					wrong <- fmt.Sprintf("pinned call failed otherwise: %v", err)
				}
			})
		})
		wg.Go(func() {
			session(free, stop, func(resp *pb.ListVersionsResponse, md metadata.MD, err error) {
				if err != nil {
					wrong <- fmt.Sprintf("unpinned call failed: %v", err)
					return
				}
				d := md.Get(server.IndexDigestKey)
				if len(d) != 1 || (d[0] != oldDigest && d[0] != newDigest) {
					wrong <- fmt.Sprintf("unpinned answer with digest %v", d)
					return
				}
				unpinnedOK.Add(1)
				unpinnedBy.Store(answer{d[0], len(resp.Versions)}, true)
			})
		})
	}

	time.Sleep(poll / 2)
	if err := os.WriteFile(file, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	rolled := time.Now()
	converged := make([]time.Duration, len(ps))
	for i, rpc := range direct {
		for {
			d, n, err := digestOf(ctx, rpc)
			if err != nil {
				t.Fatalf("replica %s: %v", ps[i].addr, err)
			}
			if d == newDigest {
				converged[i] = time.Since(rolled)
				versions[d] = n
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Once every replica serves the new snapshot, the pinned session is
	// refused everywhere: let it see that for a while.
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(wrong)
	for w := range wrong {
		t.Error(w)
	}
	sort.Slice(converged, func(i, j int) bool { return converged[i] < converged[j] })
	t.Logf("poll %v; replicas converged %v after the file changed; pinned session: %d answers from the old digest, %d refused INDEX_CHANGED; %d unpinned answers",
		poll, converged, pinnedOld.Load(), refused.Load(), unpinnedOK.Load())
	if slowest := converged[len(converged)-1]; slowest > poll+2*time.Second {
		t.Errorf("the slowest replica took %v to serve the new snapshot; want about one poll interval (%v)", slowest, poll)
	}
	if pinnedOld.Load() == 0 || refused.Load() == 0 {
		t.Errorf("the pinned session saw %d old answers and %d refusals; want both", pinnedOld.Load(), refused.Load())
	}
	// Each unpinned answer came from the index its header names.
	if versions[oldDigest] == versions[newDigest] {
		t.Fatalf("the two snapshots list %d versions each; the test needs them to differ", versions[oldDigest])
	}
	unpinnedBy.Range(func(k, _ any) bool {
		a := k.(answer)
		if versions[a.digest] != a.n {
			t.Errorf("an answer headed %s listed %d versions; that snapshot has %d", a.digest, a.n, versions[a.digest])
		}
		return true
	})
}
