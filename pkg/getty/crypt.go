package getty

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"strconv"
	"strings"
)

// SHA-crypt: the "$5$" (SHA-256) and "$6$" (SHA-512) password hashes of
// /etc/shadow, as glibc's crypt(3), `openssl passwd -5/-6` and
// `mkpasswd -m sha-256/sha-512` make them, following the published
// specification ("Unix crypt using SHA-256 and SHA-512").

const (
	cryptAlphabet      = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	cryptDefaultRounds = 5000
	cryptMinRounds     = 1000
	cryptMaxRounds     = 999999999
	cryptMaxSalt       = 16
)

// cryptParams is a parsed "$5$" or "$6$" setting: the part before the
// hash.
type cryptParams struct {
	id         string // "5" or "6"
	rounds     int
	roundsSet  bool // "rounds=N$" was written (it is then part of the output)
	salt       string
	hashLength int // characters of the encoded hash
}

// parseCryptSetting parses "$ID$[rounds=N$]SALT[$HASH]" and returns the
// parameters and the hash part ("" when absent). Like glibc, the salt
// stops at the first "$" and is cut to 16 characters, and rounds are
// clamped to 1000..999999999.
func parseCryptSetting(s string) (p cryptParams, hashPart string, err error) {
	switch {
	case strings.HasPrefix(s, "$5$"):
		p.id, p.hashLength = "5", 43
	case strings.HasPrefix(s, "$6$"):
		p.id, p.hashLength = "6", 86
	default:
		return p, "", errors.New(`not a "$5$" or "$6$" hash`)
	}
	rest := s[3:]
	p.rounds = cryptDefaultRounds
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		num, after, found := strings.Cut(r, "$")
		n, perr := strconv.ParseUint(num, 10, 64)
		if !found || perr != nil {
			return p, "", errors.New("bad rounds=N$ field")
		}
		p.rounds, p.roundsSet = int(min(max(n, cryptMinRounds), cryptMaxRounds)), true
		rest = after
	}
	salt, hashPart, _ := strings.Cut(rest, "$")
	if len(salt) > cryptMaxSalt {
		salt = salt[:cryptMaxSalt]
	}
	p.salt = salt
	return p, hashPart, nil
}

// cryptHash computes the full "$ID$[rounds=N$]SALT$HASH" string.
func cryptHash(p cryptParams, password string) string {
	newHash := sha512.New
	if p.id == "5" {
		newHash = sha256.New
	}
	pw, salt := []byte(password), []byte(p.salt)
	size := newHash().Size()

	// B = H(password salt password)
	h := newHash()
	h.Write(pw)
	h.Write(salt)
	h.Write(pw)
	b := h.Sum(nil)

	// A = H(password salt B-repeated-to-len(password) bits-of-len)
	h = newHash()
	h.Write(pw)
	h.Write(salt)
	writeRepeated(h, b, len(pw))
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(pw)
		}
	}
	a := h.Sum(nil)

	// P sequence: H(password x len(password)) stretched to len(password).
	h = newHash()
	for range len(pw) {
		h.Write(pw)
	}
	ps := stretch(h.Sum(nil), len(pw))

	// S sequence: H(salt x (16 + A[0])) stretched to len(salt).
	h = newHash()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	ss := stretch(h.Sum(nil), len(salt))

	c := a
	for i := range p.rounds {
		h = newHash()
		if i&1 != 0 {
			h.Write(ps)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(ss)
		}
		if i%7 != 0 {
			h.Write(ps)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(ps)
		}
		c = h.Sum(c[:0])
	}

	var out strings.Builder
	out.WriteString("$" + p.id + "$")
	if p.roundsSet {
		out.WriteString("rounds=" + strconv.Itoa(p.rounds) + "$")
	}
	out.WriteString(p.salt + "$")
	// The digest's bytes go out in the specification's order: groups of
	// three bytes a third of the digest apart, rotated group by group.
	// (SHA-512 and SHA-256 rotate in opposite directions.)
	third := 21
	if size != sha512.Size {
		third = 10
	}
	for i := range third {
		x, y, z := c[i], c[i+third], c[i+2*third]
		if r := i % 3; r != 0 {
			if size != sha512.Size {
				r = 3 - r
			}
			if r == 1 {
				x, y, z = y, z, x
			} else {
				x, y, z = z, x, y
			}
		}
		encode24(&out, x, y, z, 4)
	}
	if size == sha512.Size {
		encode24(&out, 0, 0, c[63], 2)
	} else {
		encode24(&out, 0, c[31], c[30], 3)
	}
	return out.String()
}

// writeRepeated writes b over and over, n bytes in all.
func writeRepeated(h hash.Hash, b []byte, n int) {
	for ; n > len(b); n -= len(b) {
		h.Write(b)
	}
	h.Write(b[:n])
}

// stretch repeats d to n bytes.
func stretch(d []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out)+len(d) <= n {
		out = append(out, d...)
	}
	return append(out, d[:n-len(out)]...)
}

// encode24 writes the 24 bits b2 b1 b0 as n characters, low bits first.
func encode24(out *strings.Builder, b2, b1, b0 byte, n int) {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for range n {
		out.WriteByte(cryptAlphabet[w&0x3f])
		w >>= 6
	}
}

// validCryptSalt reports whether s can be a SHA-crypt salt here: 1 to 16
// characters of the crypt alphabet.
func validCryptSalt(s string) bool {
	if s == "" || len(s) > cryptMaxSalt {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(cryptAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}
