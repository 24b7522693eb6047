package enforce

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

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
	fd      int // multicast reader
	ctl     int // unicast control socket
	enabled bool
	seq     atomic.Uint32
}

// OpenAudit subscribes to the audit multicast group and makes sure the
// kernel's audit is enabled (Landlock logs nothing while it is off);
// Enabled reports whether this call had to turn it on.
func OpenAudit() (*Audit, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("open audit socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("join audit multicast group: %w", err)
	}
	ctl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open audit control socket: %w", err)
	}
	a := &Audit{fd: fd, ctl: ctl}
	st, err := a.request(auditGet, nil)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("read audit status: %w", err)
	}
	if len(st) >= 8 && binary.LittleEndian.Uint32(st[4:8]) == 0 {
		status := make([]byte, 40)
		binary.LittleEndian.PutUint32(status[0:], 1) // mask: AUDIT_STATUS_ENABLED
		binary.LittleEndian.PutUint32(status[4:], 1) // enabled
		if _, err := a.request(auditSet, status); err != nil {
			a.Close()
			return nil, fmt.Errorf("enable audit: %w", err)
		}
		a.enabled = true
	}
	return a, nil
}

// Enabled reports whether OpenAudit turned the kernel's audit on.
func (a *Audit) Enabled() bool { return a.enabled }

// Close closes both sockets.
func (a *Audit) Close() {
	unix.Close(a.fd)
	unix.Close(a.ctl)
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
	buf := make([]byte, 8192)
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

// Read blocks for the next batch of records.
func (a *Audit) Read(buf []byte) ([]Record, error) {
	n, _, err := unix.Recvfrom(a.fd, buf, 0)
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
