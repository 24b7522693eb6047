package enforce

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// auditBufSize holds the largest audit record (MAX_AUDIT_MESSAGE_LENGTH,
// 8970 bytes) with its netlink header.
const auditBufSize = 8970 + 16

// Audit record types immunix reads.
const (
	auditGet            = 1000
	auditSet            = 1001
	auditUser           = 1005 // AUDIT_USER: a message from user space
	auditUserMsg        = 1100 // how the kernel logs an AUDIT_USER message
	auditSeccomp        = 1326
	auditLandlockAccess = 1423
	auditLandlockDomain = 1424
)

// Audit reads the kernel's audit records from the netlink multicast group
// (needs CAP_AUDIT_READ), as auditd does but without replacing it.
type Audit struct {
	mc      *os.File // multicast reader, non-blocking: Read parks in the runtime's poller
	ctl     int      // unicast control socket
	enabled bool
	hold    *auditHold
	seq     atomic.Uint32
	// lostAtOpen is the kernel's count of audit records it dropped when
	// the audit was opened (the supervisor reports any growth).
	lostAtOpen uint32
	// overruns counts the times the multicast socket's buffer overflowed
	// (ENOBUFS on a read): the kernel dropped records for it.
	overruns atomic.Uint32
}

// multicastBuffer is the multicast socket's receive buffer (set with
// SO_RCVBUFFORCE as root; the default holds about 200 records): a burst
// of denials while the supervisor is busy or starved overflows less.
const multicastBuffer = 8 << 20

// DefaultStateDir holds the lock and the state file with which concurrent
// immunix runs share the kernel's audit switch.
const DefaultStateDir = "/run/immunix"

// OpenAudit subscribes to the audit multicast group and makes sure the
// kernel's audit is enabled (Landlock logs nothing while it is off);
// Enabled reports whether this call had to turn it on. stateDir ("":
// DefaultStateDir) holds the lock and state file shared with the other
// immunix runs: Close turns the audit off again when the last run that
// needed it exits and an immunix run, not the admin, turned it on.
func OpenAudit(stateDir string) (*Audit, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("open audit socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("join audit multicast group: %w", err)
	}
	// Best effort: without CAP_NET_ADMIN the default buffer stays, and
	// overflows are still counted and alerted.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, multicastBuffer)
	ctl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open audit control socket: %w", err)
	}
	a := &Audit{mc: os.NewFile(uintptr(fd), "audit-multicast"), ctl: ctl}
	if a.hold, err = holdAudit(stateDir); err != nil {
		a.Close()
		return nil, err
	}
	st, err := a.status()
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("read audit status: %w", err)
	}
	a.lostAtOpen = st.lost
	if st.enabled == 0 {
		if err := a.setEnabled(1); err != nil {
			a.Close()
			return nil, fmt.Errorf("enable audit: %w", err)
		}
		a.enabled = true
		if err := a.hold.markEnabled(); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// auditStatus is what this package reads of the kernel's struct
// audit_status.
type auditStatus struct {
	enabled      uint32 // 0 off, 1 on, 2 locked on
	backlogLimit uint32
	lost         uint32 // records the kernel dropped since boot
}

// status reads the kernel's struct audit_status (AUDIT_GET).
func (a *Audit) status() (auditStatus, error) {
	st, err := a.request(auditGet, nil)
	if err != nil {
		return auditStatus{}, err
	}
	return parseAuditStatus(st)
}

// parseAuditStatus reads struct audit_status: mask, enabled, failure,
// pid, rate_limit, backlog_limit, lost, ... (u32 each).
func parseAuditStatus(b []byte) (auditStatus, error) {
	if len(b) < 28 {
		return auditStatus{}, fmt.Errorf("short audit status (%d bytes)", len(b))
	}
	u := func(i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }
	return auditStatus{enabled: u(1), backlogLimit: u(5), lost: u(6)}, nil
}

// setEnabled sets the kernel's audit_enabled (struct audit_status with
// the AUDIT_STATUS_ENABLED mask).
func (a *Audit) setEnabled(v uint32) error {
	status := make([]byte, 40)
	binary.LittleEndian.PutUint32(status[0:], 1) // mask: AUDIT_STATUS_ENABLED
	binary.LittleEndian.PutUint32(status[4:], v)
	_, err := a.request(auditSet, status)
	return err
}

// Enabled reports whether OpenAudit turned the kernel's audit on.
func (a *Audit) Enabled() bool { return a.enabled }

// Close releases this run's hold on the audit (turning it off when this
// was the last run holding it and an immunix run turned it on; it
// reports whether it did) and closes both sockets.
func (a *Audit) Close() (disabled bool, err error) {
	if a.hold != nil {
		disabled, err = a.hold.release(a)
		a.hold = nil
	}
	a.mc.Close()
	unix.Close(a.ctl)
	return disabled, err
}

// The audit switch is shared by every immunix run on the machine. Each
// run that reads the audit holds a shared flock on STATEDIR/audit.lock
// while it runs; a run that finds the audit off turns it on and creates
// STATEDIR/audit-enabled-by-immunix. A run that ends tries to take the
// lock exclusively without waiting: it gets it only when no other run
// holds it, and then, if the state file exists, turns the audit off and
// removes the file. A crashed run's lock goes with its process, and the
// state file stays, so the next run to end cleans up after it. An audit
// that was on before (auditd, the admin) has no state file and is never
// turned off.
type auditHold struct {
	lock  int // fd of STATEDIR/audit.lock (not an *os.File: no poller)
	path  string
	state string
}

func holdAudit(dir string) (*auditHold, error) {
	if dir == "" {
		dir = DefaultStateDir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit state: %w", err)
	}
	path := filepath.Join(dir, "audit.lock")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit state: open %s: %w", path, err)
	}
	if err := flock(fd, unix.LOCK_SH); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("audit state: lock %s: %w", path, err)
	}
	return &auditHold{lock: fd, path: path, state: filepath.Join(dir, "audit-enabled-by-immunix")}, nil
}

func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// markEnabled records that an immunix run turned the audit on.
// It writes with plain system calls: os.WriteFile's poller registration
// costs immunix run's start-up 30 us more.
func (h *auditHold) markEnabled() error {
	fd, err := unix.Open(h.state, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("audit state: create %s: %w", h.state, err)
	}
	_, err = unix.Write(fd, []byte("audit was off; immunix run turned it on\n"))
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit state: write %s: %w", h.state, err)
	}
	return nil
}

// release ends this run's hold; see auditHold.
func (h *auditHold) release(a *Audit) (bool, error) {
	defer unix.Close(h.lock)
	// flock converts shared to exclusive by dropping the shared lock
	// first: a run starting meanwhile takes its shared lock and then owns
	// the clean-up.
	if err := flock(h.lock, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if err == unix.EWOULDBLOCK {
			return false, nil // another run still needs the audit
		}
		return false, fmt.Errorf("audit state: lock %s: %w", h.path, err)
	}
	if _, err := os.Stat(h.state); err != nil {
		return false, nil // the audit was on before any immunix run
	}
	st, err := a.status()
	if err != nil {
		return false, fmt.Errorf("read audit status: %w", err)
	}
	if st.enabled == 1 {
		if err := a.setEnabled(0); err != nil {
			return false, fmt.Errorf("turn the audit back off: %w", err)
		}
	}
	if err := os.Remove(h.state); err != nil {
		return false, fmt.Errorf("audit state: %w", err)
	}
	return st.enabled == 1, nil
}

func (a *Audit) send(typ uint16, flags uint16, payload []byte) error {
	msg := make([]byte, 16+len(payload))
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.LittleEndian.PutUint16(msg[4:], typ)
	binary.LittleEndian.PutUint16(msg[6:], flags)
	binary.LittleEndian.PutUint32(msg[8:], a.seq.Add(1))
	copy(msg[16:], payload)
	return unix.Sendto(a.ctl, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// request sends a request and returns the payload of the reply (AUDIT_GET)
// or nil after a successful ack.
func (a *Audit) request(typ uint16, payload []byte) ([]byte, error) {
	if err := a.send(typ, unix.NLM_F_REQUEST|unix.NLM_F_ACK, payload); err != nil {
		return nil, err
	}
	buf := make([]byte, 2048) // replies to AUDIT_GET and acks: < 100 bytes
	for {
		n, _, err := unix.Recvfrom(a.ctl, buf, 0)
		if err != nil {
			return nil, err
		}
		b := buf[:n]
		for len(b) >= 16 {
			l := int(binary.LittleEndian.Uint32(b[0:]))
			t := binary.LittleEndian.Uint16(b[4:])
			if l < 16 || l > len(b) {
				break
			}
			body := b[16:l]
			switch t {
			case unix.NLMSG_ERROR:
				if len(body) >= 4 {
					if e := int32(binary.LittleEndian.Uint32(body)); e != 0 {
						return nil, unix.Errno(-e)
					}
				}
				if typ != auditGet {
					return nil, nil
				}
			case typ:
				return append([]byte(nil), body...), nil
			}
			b = b[(l+3)&^3:]
		}
	}
}

// Mark logs a user message through the audit queue; seeing it come back
// on the multicast group means every earlier record has been read.
func (a *Audit) Mark(text string) error {
	return a.send(auditUser, unix.NLM_F_REQUEST, append([]byte(text), 0))
}

// Record is one audit record.
type Record struct {
	Type   uint16
	Fields map[string]string
	Text   string
}

// Read waits for the next batch of records (in the runtime's poller,
// without holding a thread); after Close it returns an error.
func (a *Audit) Read(buf []byte) ([]Record, error) {
	n, err := a.mc.Read(buf)
	if err != nil {
		return nil, err
	}
	var out []Record
	b := buf[:n]
	for len(b) >= 16 {
		l := int(binary.LittleEndian.Uint32(b[0:]))
		t := binary.LittleEndian.Uint16(b[4:])
		if l < 16 || l > len(b) {
			// Multicast audit messages may carry a wrong nlmsg_len; take
			// the rest of the datagram.
			l = len(b)
		}
		text := strings.TrimRight(string(b[16:l]), "\x00\n")
		out = append(out, Record{Type: t, Text: text, Fields: ParseAuditFields(text)})
		b = b[min(len(b), (l+3)&^3):]
	}
	return out, nil
}

// ParseAuditFields splits "audit(...): k=v k="quoted" k=HEX" into fields;
// values audit wrote in hex (untrusted strings with odd bytes) are
// decoded for the keys that hold strings.
func ParseAuditFields(text string) map[string]string {
	if i := strings.Index(text, "): "); i >= 0 && strings.HasPrefix(text, "audit(") {
		text = text[i+3:]
	}
	f := map[string]string{}
	for len(text) > 0 {
		text = strings.TrimLeft(text, " ")
		eq := strings.IndexByte(text, '=')
		if eq <= 0 {
			break
		}
		key := text[:eq]
		text = text[eq+1:]
		var val string
		if strings.HasPrefix(text, "\"") {
			end := strings.IndexByte(text[1:], '"')
			if end < 0 {
				val, text = text[1:], ""
			} else {
				val, text = text[1:1+end], text[2+end:]
			}
		} else {
			end := strings.IndexByte(text, ' ')
			if end < 0 {
				end = len(text)
			}
			val, text = text[:end], text[end:]
			switch key {
			case "path", "exe", "comm", "name", "msg":
				if d, err := hex.DecodeString(val); err == nil && len(val) >= 2 {
					val = string(d)
				}
			}
		}
		f[key] = val
	}
	return f
}

// KernelAuditEnabled returns the kernel's audit switch (audit_enabled: 0
// off, 1 on, 2 on and locked), as auditctl -s shows it.
func KernelAuditEnabled() (uint32, error) {
	a, err := openControl()
	if err != nil {
		return 0, err
	}
	defer unix.Close(a.ctl)
	st, err := a.status()
	if err != nil {
		return 0, fmt.Errorf("read audit status: %w", err)
	}
	return st.enabled, nil
}

// SetKernelAuditEnabled sets the kernel's audit switch to v (0 or 1), as
// auditctl -e does; it needs CAP_AUDIT_CONTROL.
func SetKernelAuditEnabled(v uint32) error {
	a, err := openControl()
	if err != nil {
		return err
	}
	defer unix.Close(a.ctl)
	if err := a.setEnabled(v); err != nil {
		return fmt.Errorf("set audit enabled=%d: %w", v, err)
	}
	return nil
}

func openControl() (*Audit, error) {
	ctl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("open audit control socket: %w", err)
	}
	return &Audit{ctl: ctl}, nil
}
