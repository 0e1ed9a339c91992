package kmod

// Match reports whether name matches the shell glob pattern the way
// fnmatch(3) does with no flags, which is how kmod matches modules.alias
// patterns: "*" matches any run of bytes (including "/"), "?" any one
// byte, "[...]" a set ("!" or "^" first negates, "a-z" ranges, "]" first
// is literal, "[:digit:]" and the other POSIX classes of the C locale),
// and "\" quotes the next byte. Malformed patterns behave as with glibc:
// a "[" without its closing "]" matches itself unless a member matched
// or a range ran into the end (see matchSet); a pattern ending in a lone
// "\" matches nothing. Collating symbols "[.x.]" and equivalence classes
// "[=x=]" are not supported. Matching is bytewise.
func Match(pattern, name string) bool {
	p, n := 0, 0
	// Position to resume from after the last "*": pattern index just past
	// it and the name index it is currently assumed to cover up to.
	starP, starN := -1, 0
	for n < len(name) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				starP, starN = p+1, n
				p++
				continue
			case '?':
				p++
				n++
				continue
			case '[':
				ok, next, outcome := matchSet(pattern, p, name[n])
				if outcome == setClosed && ok {
					p = next
					n++
					continue
				}
				if outcome == setLiteral && name[n] == '[' {
					p++
					n++
					continue
				}
			case '\\':
				if p+1 < len(pattern) {
					if pattern[p+1] == name[n] {
						p += 2
						n++
						continue
					}
					break
				}
				return false // a trailing "\\" is malformed: glibc matches nothing
			default:
				if c == name[n] {
					p++
					n++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starN++
		p, n = starP, starN
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// The outcomes of a bracket expression.
const (
	setClosed  = iota // a proper "[...]": ok tells whether the byte is in it
	setLiteral        // no closing "]" and the byte is not in it: "[" is an ordinary byte
	setFail           // glibc gives up on this attempt (see matchSet)
)

// matchSet matches byte b against the bracket expression starting at
// pattern[i] == '[', as glibc's fnmatch (2.36) does in the C locale.
// Without a closing "]", "[" is an ordinary byte (setLiteral); but when
// a range or an escape runs into the end of the pattern, or a character
// class name is unknown, this attempt does not match (setFail).
func matchSet(pattern string, i int, b byte) (ok bool, next int, outcome int) {
	j := i + 1
	negate := false
	if j < len(pattern) && (pattern[j] == '!' || pattern[j] == '^') {
		negate = true
		j++
	}
	first := true
	for j < len(pattern) {
		c := pattern[j]
		if c == ']' && !first {
			return negate, j + 1, setClosed // b is in no member
		}
		first = false
		if c == '[' && j+1 < len(pattern) && pattern[j+1] == ':' {
			if name, end, isClass := className(pattern, j); isClass {
				in, known := inClass(name, b)
				if !known {
					return false, 0, setFail
				}
				j = end
				if in {
					return skipSet(pattern, j, negate)
				}
				continue
			}
		}
		if c == '\\' {
			if j+1 >= len(pattern) {
				return false, 0, setFail
			}
			j++
			c = pattern[j]
		}
		lo, hi := c, c
		if j+1 < len(pattern) && pattern[j+1] == '-' && (j+2 >= len(pattern) || pattern[j+2] != ']') {
			if j+2 >= len(pattern) {
				return false, 0, setFail // a range ending at the end of the pattern
			}
			hi = pattern[j+2]
			j += 2
			if hi == '\\' {
				if j+1 >= len(pattern) {
					return false, 0, setFail
				}
				j++
				hi = pattern[j]
			}
		}
		j++
		if lo <= b && b <= hi {
			return skipSet(pattern, j, negate)
		}
	}
	return false, 0, setLiteral
}

// skipSet finds the end of a bracket expression whose member at j-1
// matched, the way glibc skips it: escapes and character classes are
// stepped over; without a closing "]", "[" is an ordinary byte after all.
func skipSet(pattern string, j int, negate bool) (ok bool, next int, outcome int) {
	for j < len(pattern) {
		switch c := pattern[j]; {
		case c == ']':
			return !negate, j + 1, setClosed
		case c == '\\':
			if j+1 >= len(pattern) {
				return false, 0, setFail
			}
			j += 2
		case c == '[' && j+1 < len(pattern) && pattern[j+1] == ':':
			if _, end, isClass := className(pattern, j); isClass {
				j = end
			} else {
				j++
			}
		default:
			j++
		}
	}
	return false, 0, setLiteral
}

// className reads "[:name:]" at pattern[j]. isClass is false when a byte
// outside a..y comes before ":]" (glibc then takes the "[" as a member);
// end is the index after "]".
func className(pattern string, j int) (name string, end int, isClass bool) {
	for k := j + 2; k < len(pattern); k++ {
		if pattern[k] == ':' && k+1 < len(pattern) && pattern[k+1] == ']' {
			return pattern[j+2 : k], k + 2, true
		}
		if c := pattern[k]; c < 'a' || c >= 'z' {
			return "", 0, false
		}
	}
	return "", 0, false
}

// inClass reports whether b is in the C locale's character class name;
// known is false for a name that is no class.
func inClass(name string, b byte) (in, known bool) {
	upper := 'A' <= b && b <= 'Z'
	lower := 'a' <= b && b <= 'z'
	digit := '0' <= b && b <= '9'
	graph := '!' <= b && b <= '~'
	switch name {
	case "alpha":
		return upper || lower, true
	case "digit":
		return digit, true
	case "alnum":
		return upper || lower || digit, true
	case "upper":
		return upper, true
	case "lower":
		return lower, true
	case "xdigit":
		return digit || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F', true
	case "space":
		return b == ' ' || '\t' <= b && b <= '\r', true
	case "blank":
		return b == ' ' || b == '\t', true
	case "punct":
		return graph && !upper && !lower && !digit, true
	case "print":
		return graph || b == ' ', true
	case "graph":
		return graph, true
	case "cntrl":
		return b < ' ' || b == 0x7f, true
	}
	return false, false
}
