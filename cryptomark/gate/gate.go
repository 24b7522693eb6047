package gate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/alert"
	"github.com/immunix/immunix/cryptomark"
)

// Config is what the gate enforces and where.
type Config struct {
	Policy *Policy
	Keys   *cryptomark.Keyring
	// Audit allows everything and alerts what would have been denied.
	Audit bool
	// Libraries also gates every open of an ELF shared object (ET_DYN:
	// libraries, and PIE programs opened for reading) on the marked
	// filesystems, with FAN_OPEN_PERM: ld.so opens libraries with a plain
	// open. Every open on those filesystems then waits for the gate.
	Libraries bool
	// Marks are paths whose filesystems are marked (FAN_MARK_FILESYSTEM):
	// every exec from those filesystems, through any mount of them, is
	// gated. At least one.
	Marks []string
	// Timeout bounds the time from reading an event to answering it;
	// an event not decided by then is answered by policy (deny where a
	// signature is required, allow and alert under audit). 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Workers verify signatures concurrently; 0 means DefaultWorkers.
	Workers int
	// Alerts receives the alerts; nil means none are sent (tests).
	Alerts *alert.Writer
	// Log receives start-up and statistics lines; nil discards them.
	Log io.Writer
	// NoKernelCache turns off the kernel-side cache of verified files
	// (see kernelCache): every exec of them then comes to the gate.
	NoKernelCache bool
}

// Defaults of Config.
const (
	DefaultTimeout = 2 * time.Second
	DefaultWorkers = 4
	// queueSize bounds the events waiting for a worker; a full queue
	// answers by policy at once.
	queueSize = 1024
	// cacheSize bounds the verdict cache; when full it is emptied.
	cacheSize = 16384
	// alertQueue bounds the alerts waiting to be sent; more are counted
	// and dropped, never waited for.
	alertQueue = 256
)

// Stats counts what the gate did.
type Stats struct {
	Events, Allowed, Denied, Alerts, AlertsDropped uint64
	CacheHits, Verified, TimedOut, Overloaded      uint64
	KernelCached, NotCached                        uint64
}

func (s *Stats) String() string {
	return fmt.Sprintf("events=%d allowed=%d denied=%d alerts=%d alerts-dropped=%d cache-hits=%d verified=%d timed-out=%d overloaded=%d kernel-cached=%d not-cached=%d",
		atomic.LoadUint64(&s.Events), atomic.LoadUint64(&s.Allowed), atomic.LoadUint64(&s.Denied),
		atomic.LoadUint64(&s.Alerts), atomic.LoadUint64(&s.AlertsDropped), atomic.LoadUint64(&s.CacheHits),
		atomic.LoadUint64(&s.Verified), atomic.LoadUint64(&s.TimedOut), atomic.LoadUint64(&s.Overloaded),
		atomic.LoadUint64(&s.KernelCached), atomic.LoadUint64(&s.NotCached))
}

// Gate is an open fanotify group with its marks.
type Gate struct {
	cfg    Config
	f      *os.File // the fanotify descriptor, non-blocking, in Go's poller
	self   int32
	work   chan *event
	alerts chan *alert.Alert
	stats  Stats

	mu    sync.Mutex
	cache map[cacheKey]verdict

	mask   uint64      // the events the filesystems are marked for
	kcache atomic.Bool // ignore marks are used (the kernel accepts them)
	// trustCache is a test hook: keep every verdict and mark every
	// verified root file, as before the cacheable checks (the attack
	// tests prove the checks matter).
	trustCache bool
}

// fileKind is what a file's first bytes say it is.
type fileKind uint8

const (
	kindOther  fileKind = iota
	kindScript          // "#!"
	kindELF             // ELF, not ET_DYN
	kindDyn             // ELF ET_DYN: a shared library or a PIE program
)

// verdict is what the gate learnt from reading a file.
type verdict struct {
	kind     fileKind
	verified bool // v holds the signature verdict
	v        cryptomark.Verdict
}

// Errors of Open, for the daemon's start-up message.
var (
	ErrNotRoot       = errors.New("fanotify permission events need CAP_SYS_ADMIN: run immunix markd as root")
	ErrNoFanotify    = errors.New("fanotify is not available in this kernel (CONFIG_FANOTIFY)")
	ErrNoPermEvents  = errors.New("this kernel has no fanotify permission events (CONFIG_FANOTIFY_ACCESS_PERMISSIONS)")
	ErrNoExecPerm    = errors.New("this kernel has no FAN_OPEN_EXEC_PERM (Linux 5.0 or later)")
	errNothingMarked = errors.New("no filesystem to mark: give at least one --mark PATH")
)

// Open creates the fanotify group and marks the filesystems. Nothing is
// gated until Run reads the events; until then execs on the marked
// filesystems wait (Run right after Open).
func Open(cfg Config) (*Gate, error) {
	if len(cfg.Marks) == 0 {
		return nil, errNothingMarked
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_CONTENT|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK,
		unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	switch {
	case errors.Is(err, unix.EPERM):
		return nil, ErrNotRoot
	case errors.Is(err, unix.ENOSYS):
		return nil, ErrNoFanotify
	case errors.Is(err, unix.EINVAL):
		return nil, ErrNoPermEvents
	case err != nil:
		return nil, fmt.Errorf("fanotify_init: %w", err)
	}
	mask := uint64(unix.FAN_OPEN_EXEC_PERM)
	if cfg.Libraries {
		mask |= unix.FAN_OPEN_PERM
	}
	for _, m := range cfg.Marks {
		err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, mask, unix.AT_FDCWD, m)
		if err != nil {
			unix.Close(fd)
			if errors.Is(err, unix.EINVAL) {
				return nil, fmt.Errorf("mark %s: %w", m, ErrNoExecPerm)
			}
			return nil, fmt.Errorf("mark the filesystem of %s: %w", m, err)
		}
	}
	g := &Gate{
		cfg:    cfg,
		f:      os.NewFile(uintptr(fd), "fanotify"),
		self:   int32(os.Getpid()),
		work:   make(chan *event, queueSize),
		alerts: make(chan *alert.Alert, alertQueue),
		cache:  map[cacheKey]verdict{},
		mask:   mask,
		// A test proves the writers check matters by turning it off.
		trustCache: os.Getenv(testTrustCacheEnv) == "1",
	}
	g.kcache.Store(!cfg.NoKernelCache)
	return g, nil
}

// Stats returns the gate's counters.
func (g *Gate) Stats() *Stats { return &g.stats }

// Close stops Run; the kernel allows every event not yet answered.
func (g *Gate) Close() error { return g.f.Close() }

// event is one permission event until it is answered and its descriptor
// closed. The mutex makes "answer once" and "close after answering" one
// decision, so a late timer never answers a reused descriptor number.
type event struct {
	fd    int32
	pid   int32
	open  bool // a plain open (--libraries), not an exec
	mu    sync.Mutex
	done  bool // answered
	shut  bool // fd closed
	timer *time.Timer
}

// Run reads events until Close (returns nil) or a read error.
func (g *Gate) Run() error {
	var wg sync.WaitGroup
	for range g.cfg.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); g.worker() }()
	}
	alertsDone := make(chan struct{})
	go g.sendAlerts(alertsDone)
	defer func() {
		close(g.work)
		wg.Wait()
		close(g.alerts)
		<-alertsDone
	}()
	buf := make([]byte, 64*unix.FAN_EVENT_METADATA_LEN)
	for {
		n, err := g.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read fanotify events: %w", err)
		}
		if err := g.events(buf[:n]); err != nil {
			return err
		}
	}
}

func (g *Gate) events(b []byte) error {
	for len(b) >= unix.FAN_EVENT_METADATA_LEN {
		md := (*unix.FanotifyEventMetadata)(unsafe.Pointer(&b[0]))
		if md.Vers != unix.FANOTIFY_METADATA_VERSION {
			return fmt.Errorf("fanotify metadata version %d, this immunix reads %d", md.Vers, unix.FANOTIFY_METADATA_VERSION)
		}
		if md.Event_len < unix.FAN_EVENT_METADATA_LEN || int(md.Event_len) > len(b) {
			return fmt.Errorf("fanotify event of %d bytes in a read of %d", md.Event_len, len(b))
		}
		b = b[md.Event_len:]
		if md.Mask&unix.FAN_Q_OVERFLOW != 0 {
			fmt.Fprintln(g.cfg.Log, "immunix markd: fanotify queue overflowed (non-permission events lost)")
		}
		if md.Fd < 0 {
			continue
		}
		atomic.AddUint64(&g.stats.Events, 1)
		// An exec raises FAN_OPEN_EXEC_PERM and then, with --libraries,
		// FAN_OPEN_PERM for the same file: two events.
		ev := &event{fd: md.Fd, pid: md.Pid, open: md.Mask&unix.FAN_OPEN_EXEC_PERM == 0}
		if md.Mask&(unix.FAN_OPEN_EXEC_PERM|unix.FAN_OPEN_PERM) == 0 || md.Pid == g.self {
			g.answer(ev, true)
			g.finish(ev)
			continue
		}
		if g.fast(ev) {
			continue
		}
		ev.timer = time.AfterFunc(g.cfg.Timeout, func() { g.timeout(ev) })
		select {
		case g.work <- ev:
		default:
			atomic.AddUint64(&g.stats.Overloaded, 1)
			ev.timer.Stop()
			g.byPolicy(ev, "the gate is overloaded (verification queue full)")
			g.finish(ev)
		}
	}
	return nil
}

// answer writes the response once; it reports whether this call did.
func (g *Gate) answer(ev *event, allow bool) bool {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.done || ev.shut {
		return false
	}
	ev.done = true
	resp := unix.FanotifyResponse{Fd: ev.fd, Response: unix.FAN_DENY}
	if allow {
		resp.Response = unix.FAN_ALLOW
		atomic.AddUint64(&g.stats.Allowed, 1)
	} else {
		atomic.AddUint64(&g.stats.Denied, 1)
	}
	b := (*[unsafe.Sizeof(resp)]byte)(unsafe.Pointer(&resp))[:]
	// A failed write leaves the event to the kernel, which allows it
	// when the group closes; nothing better is possible.
	g.f.Write(b)
	return true
}

// finish answers by allowing if nothing answered yet (never reached on a
// correct path) and closes the event's descriptor.
func (g *Gate) finish(ev *event) {
	if ev.timer != nil {
		ev.timer.Stop()
	}
	g.answer(ev, true)
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if !ev.shut {
		ev.shut = true
		unix.Close(int(ev.fd))
	}
}

type cacheKey struct {
	dev, ino     uint64
	ctime, mtime unix.Timespec
	size         int64
}

// fstat returns what the kernel reports about the event's file.
func fstat(ev *event) (FileInfo, cacheKey, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(ev.fd), &st); err != nil {
		return FileInfo{}, cacheKey{}, err
	}
	return FileInfo{UID: st.Uid, Mode: st.Mode},
		keyOf(&st), nil
}

// path is the event file's path, which only picks the policy rule.
func pathOf(ev *event) (string, error) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(ev.fd)))
	return strings.TrimSuffix(p, " (deleted)"), err
}

func (g *Gate) stat(ev *event) (FileInfo, cacheKey, error) {
	fi, key, err := fstat(ev)
	if err == nil {
		fi.Path, err = pathOf(ev)
	}
	return fi, key, err
}

// needsSignature reports whether this event on a file of this kind is
// decided by its signature: an exec of anything but a script, an open
// of a shared object.
func needsSignature(ev *event, k fileKind) bool {
	if ev.open {
		return k == kindDyn
	}
	return k != kindScript
}

// fast decides in the reader what needs no reading of the file: cached
// verdicts, and allow rules on root's files. It reports whether it
// answered.
func (g *Gate) fast(ev *event) bool {
	fi, key, err := fstat(ev)
	if err != nil {
		return false
	}
	g.mu.Lock()
	vd, hit := g.cache[key]
	g.mu.Unlock()
	// Decided whatever the path says: no readlink.
	if hit && (!needsSignature(ev, vd.kind) || (vd.verified && vd.v.OK())) {
		atomic.AddUint64(&g.stats.CacheHits, 1)
		g.answer(ev, true)
		if vd.verified && vd.v.OK() {
			g.kernelCache(ev, key)
		}
		g.finish(ev)
		return true
	}
	if fi.Path, err = pathOf(ev); err != nil {
		return false
	}
	if _, verify := Needs(g.cfg.Policy, fi); verify && !(hit && vd.verified) {
		return false
	}
	if hit {
		atomic.AddUint64(&g.stats.CacheHits, 1)
	}
	g.apply(ev, fi, Decide(g.cfg.Policy, fi, vd.v, g.cfg.Audit))
	g.finish(ev)
	return true
}

func (g *Gate) worker() {
	for ev := range g.work {
		g.slow(ev)
		g.finish(ev)
	}
}

// kindOf reads the first bytes of the file.
func kindOf(r io.ReaderAt) fileKind {
	hdr := make([]byte, 18)
	n, _ := r.ReadAt(hdr, 0)
	switch {
	case n >= 2 && string(hdr[:2]) == "#!":
		return kindScript
	case n < 18 || string(hdr[:4]) != "\x7fELF":
		return kindOther
	case hdr[5] == 1 && hdr[16] == 3 && hdr[17] == 0, hdr[5] == 2 && hdr[16] == 0 && hdr[17] == 3:
		return kindDyn
	}
	return kindELF
}

func (g *Gate) slow(ev *event) {
	fi, key, err := g.stat(ev)
	if err != nil {
		g.byPolicy(ev, "cannot stat the program: "+err.Error())
		return
	}
	// The event's descriptor reads the file the kernel is about to run
	// (or map), whatever its path says now; reads through it raise no
	// event, so the gate never waits on itself.
	r := fdReader(ev.fd)
	vd := verdict{kind: kindOf(r)}
	if !needsSignature(ev, vd.kind) {
		g.keep(ev, key, vd)
		g.answer(ev, true)
		return
	}
	if _, verify := Needs(g.cfg.Policy, fi); verify {
		atomic.AddUint64(&g.stats.Verified, 1)
		vd.v, vd.verified = cryptomark.Verify(r, key.size, g.cfg.Keys), true
		if _, after, err := fstat(ev); err == nil && after == key {
			g.keep(ev, key, vd)
			if vd.v.OK() {
				g.apply(ev, fi, Decide(g.cfg.Policy, fi, vd.v, g.cfg.Audit))
				g.kernelCache(ev, key)
				return
			}
		} else if vd.v.OK() {
			// Changed while it was read: what was verified is not what
			// runs.
			vd.v = cryptomark.Verdict{Signed: true, KeyID: vd.v.KeyID, Err: errors.New("the file changed while it was verified")}
		}
	}
	g.apply(ev, fi, Decide(g.cfg.Policy, fi, vd.v, g.cfg.Audit))
}

// keep caches what was learnt from the file of ev when it is still the
// file read (key) and cacheable: nobody can change it from now on without
// moving its key.
func (g *Gate) keep(ev *event, key cacheKey, vd verdict) {
	var st unix.Stat_t
	if unix.Fstat(int(ev.fd), &st) != nil || keyOf(&st) != key || !g.cacheable(ev, &st) {
		atomic.AddUint64(&g.stats.NotCached, 1)
		return
	}
	g.remember(key, vd)
}

func (g *Gate) remember(key cacheKey, vd verdict) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.cache[key]; ok && old.verified && !vd.verified {
		return
	}
	if len(g.cache) >= cacheSize {
		clear(g.cache)
	}
	g.cache[key] = vd
}

// apply answers with d and raises its alert, if this was the answer.
func (g *Gate) apply(ev *event, fi FileInfo, d Decision) {
	if g.answer(ev, d.Allow) && d.Alert {
		g.alert(ev, fi.Path, d.Rule, d.Why)
	}
}

// byPolicy answers an event that could not be decided from its file:
// denied where a signature is required, allowed and alerted under
// audit, allowed on an allow rule for a root-owned file.
func (g *Gate) byPolicy(ev *event, why string) {
	fi, _, err := g.stat(ev)
	if err != nil {
		fi = FileInfo{Path: "?", UID: 1, Mode: 0o777}
	}
	g.apply(ev, fi, Decide(g.cfg.Policy, fi, cryptomark.Verdict{Err: errors.New(why)}, g.cfg.Audit))
}

func (g *Gate) timeout(ev *event) {
	ev.mu.Lock()
	pending := !ev.done && !ev.shut
	ev.mu.Unlock()
	if !pending {
		return
	}
	atomic.AddUint64(&g.stats.TimedOut, 1)
	g.byPolicy(ev, fmt.Sprintf("verification did not finish within %v", g.cfg.Timeout))
}

type fdReader int32

func (r fdReader) ReadAt(p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) {
		n, err := unix.Pread(int(r), p[total:], off+int64(total))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.EOF
		}
		total += n
	}
	return total, nil
}

// alert queues one alert; a full queue drops it (counted), never waits.
func (g *Gate) alert(ev *event, path, rule, why string) {
	if g.cfg.Alerts == nil {
		return
	}
	a := &alert.Alert{Kind: alert.KindCryptoMark, Exe: path, PID: int(ev.pid), UID: procUID(ev.pid),
		Fields: []alert.Field{{Key: "op", Value: map[bool]string{false: "exec", true: "open"}[ev.open]},
			{Key: "rule", Value: strings.ReplaceAll(rule, " ", ":")}}, Msg: why}
	select {
	case g.alerts <- a:
		atomic.AddUint64(&g.stats.Alerts, 1)
	default:
		atomic.AddUint64(&g.stats.AlertsDropped, 1)
	}
}

func (g *Gate) sendAlerts(done chan struct{}) {
	defer close(done)
	for a := range g.alerts {
		if err := g.cfg.Alerts.Send(a); err != nil {
			fmt.Fprintf(g.cfg.Log, "immunix markd: %v\n", err)
		}
	}
}

// procUID is the real uid of a process, -1 when it cannot be read.
func procUID(pid int32) int {
	f, err := os.Open("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("Uid:")); ok {
			if fs := strings.Fields(string(rest)); len(fs) > 0 {
				if n, err := strconv.Atoi(fs[0]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}
