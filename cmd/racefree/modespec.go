package main

import (
	"fmt"
	"io/fs"
	"strings"
)

// Permission bits as chmod(2) numbers them.
const (
	setUID  = 0o4000
	setGID  = 0o2000
	sticky  = 0o1000
	ownerRW = 0o700
	groupRW = 0o070
	otherRW = 0o007
	readAll = 0o444
	writAll = 0o222
	execAll = 0o111
	allBits = 0o7777
)

// modeSpec is a MODE operand of chmod(1): a list of clauses applied in
// order, each computed from the result of the one before.
type modeSpec []modeClause

// modeClause is one operation of a mode: "ug+rwX", "o=u", "=644".
type modeClause struct {
	op byte // '+', '-' or '='
	// who is the bits the clause may change; 0 when no u, g, o or a was
	// given, which means every bit the umask does not mask.
	who uint32
	// perm is the bits named (r, w, x, s, t, or an octal number), spread
	// over all three classes; who then picks the ones that apply.
	perm uint32
	// from is one class's bits (ownerRW, groupRW or otherRW) when the
	// clause copies a class of the file's current mode ("g=u"); 0 else.
	from uint32
	// execIfAny is X: execute, if the object is a directory or some
	// execute bit is set already.
	execIfAny bool
	// named is the bits the clause mentions explicitly. A directory's
	// set-user-ID and set-group-ID bits change only when named, because
	// on a directory they steer the owner of new files (chmod(1),
	// "Directories and the Set-User-ID and Set-Group-ID Bits").
	named uint32
}

// parseModeSpec reads a mode as chmod(1) does: an octal number (0 to 7777),
// or comma-separated symbolic clauses [ugoa]*([-+=]([rwxXst]*|[ugo]))+,
// where an operator may also take an octal number when no class is given
// ("+111", "=755").
func parseModeSpec(s string) (modeSpec, error) {
	if n, ok := parseOctal(s); ok {
		// Fewer than five digits leave a directory's set-ID bits as they
		// are unless the number sets them; five or more digits say every
		// bit (GNU chmod's rule, so that 00755 can clear them).
		named := uint32(allBits)
		if len(s) < 5 {
			named = n&(setUID|setGID) | sticky | 0o777
		}
		return modeSpec{{op: '=', who: allBits, perm: n, named: named}}, nil
	}
	if s == "" {
		return nil, fmt.Errorf("invalid mode %s", quote(s))
	}
	var spec modeSpec
	for clause := range strings.SplitSeq(s, ",") {
		c, err := parseClauses(clause)
		if err != nil {
			return nil, fmt.Errorf("invalid mode %s", quote(s))
		}
		spec = append(spec, c...)
	}
	return spec, nil
}

// parseClauses reads one comma-free part: classes, then one or more
// operators each with its permissions.
func parseClauses(s string) ([]modeClause, error) {
	var who uint32
	i := 0
	for ; i < len(s) && strings.IndexByte("ugoa", s[i]) >= 0; i++ {
		who |= classBits(s[i])
	}
	if i == len(s) {
		return nil, fmt.Errorf("no operator")
	}
	var out []modeClause
	for i < len(s) {
		op := s[i]
		if op != '+' && op != '-' && op != '=' {
			return nil, fmt.Errorf("want an operator at %d", i)
		}
		i++
		c := modeClause{op: op, who: who}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '7' {
			j++
		}
		switch {
		case j > i:
			n, ok := parseOctal(s[i:j])
			if !ok || who != 0 || j < len(s) {
				return nil, fmt.Errorf("an octal number must stand alone after its operator")
			}
			c.who, c.perm, c.named = allBits, n, allBits
			i = j
		case i < len(s) && strings.IndexByte("ugo", s[i]) >= 0:
			c.from = classBits(s[i]) & 0o777
			i++
		default:
			for ; i < len(s) && strings.IndexByte("rwxXst", s[i]) >= 0; i++ {
				switch s[i] {
				case 'r':
					c.perm |= readAll
				case 'w':
					c.perm |= writAll
				case 'x':
					c.perm |= execAll
				case 'X':
					c.execIfAny = true
				case 's':
					c.perm |= setUID | setGID
				case 't':
					c.perm |= sticky
				}
			}
		}
		if c.named == 0 {
			if c.named = c.perm; who != 0 {
				c.named &= who
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// classBits is the bits class u, g, o or a governs, set-ID and sticky
// bits included.
func classBits(class byte) uint32 {
	switch class {
	case 'u':
		return setUID | ownerRW
	case 'g':
		return setGID | groupRW
	case 'o':
		return sticky | otherRW
	}
	return allBits
}

// apply computes the new permission bits of an object with bits old (a
// directory if dir) under umask.
func (spec modeSpec) apply(old uint32, dir bool, umask uint32) uint32 {
	mode := old & allBits
	for _, c := range spec {
		perm := c.perm
		switch {
		case c.from != 0:
			perm = spreadClass(mode & c.from)
		case c.execIfAny && (dir || mode&execAll != 0):
			perm |= execAll
		}
		var keep uint32 // bits this clause must not touch
		if dir {
			keep = (setUID | setGID) &^ c.named
		}
		if c.who != 0 {
			perm &= c.who
		} else {
			perm &^= umask
		}
		perm &^= keep
		switch c.op {
		case '+':
			mode |= perm
		case '-':
			mode &^= perm
		case '=':
			// Without classes, "=" clears every bit (but the kept ones)
			// and sets what the umask lets through.
			cleared := uint32(allBits)
			if c.who != 0 {
				cleared = c.who
			}
			mode = mode&^(cleared&^keep) | perm
		}
	}
	return mode
}

// spreadClass copies the rwx bits of one class (already isolated in bits)
// to all three classes, for "g=u".
func spreadClass(bits uint32) uint32 {
	var out uint32
	for _, b := range []uint32{readAll, writAll, execAll} {
		if bits&b != 0 {
			out |= b
		}
	}
	return out
}

// parseOctal reads an octal mode of at most 7777.
func parseOctal(s string) (uint32, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	var n uint32
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '7' {
			return 0, false
		}
		if n = n*8 + uint32(s[i]-'0'); n > allBits {
			return 0, false
		}
	}
	return n, true
}

// fileMode turns chmod(2) bits into an fs.FileMode; permBits does the
// reverse.
func fileMode(bits uint32) fs.FileMode {
	m := fs.FileMode(bits & 0o777)
	if bits&setUID != 0 {
		m |= fs.ModeSetuid
	}
	if bits&setGID != 0 {
		m |= fs.ModeSetgid
	}
	if bits&sticky != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func permBits(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= setUID
	}
	if m&fs.ModeSetgid != 0 {
		bits |= setGID
	}
	if m&fs.ModeSticky != 0 {
		bits |= sticky
	}
	return bits
}
