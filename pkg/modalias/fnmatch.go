package modalias

// Match reports whether name matches the shell glob pattern the way
// fnmatch(3) does with no flags, which is how kmod matches modules.alias
// patterns: "*" matches any run of bytes (including "/"), "?" any one
// byte, "[...]" a set ("!" or "^" first negates, "a-z" ranges, "]" first
// is literal), and "\" quotes the next byte. A "[" without its closing
// "]" matches itself; a pattern ending in a lone "\" matches nothing
// (as with glibc). Matching is bytewise.
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
				if ok, next, valid := matchSet(pattern, p, name[n]); valid {
					if ok {
						p = next
						n++
						continue
					}
					break
				}
				if name[n] == '[' {
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

// matchSet matches byte b against the bracket expression starting at
// pattern[i] == '['. valid is false when the expression has no closing
// bracket (then "[" is an ordinary byte).
func matchSet(pattern string, i int, b byte) (ok bool, next int, valid bool) {
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
			return ok != negate, j + 1, true
		}
		first = false
		if c == '\\' && j+1 < len(pattern) {
			j++
			c = pattern[j]
		}
		lo, hi := c, c
		if j+2 < len(pattern) && pattern[j+1] == '-' && pattern[j+2] != ']' {
			hi = pattern[j+2]
			j += 2
			if hi == '\\' && j+1 < len(pattern) {
				j++
				hi = pattern[j]
			}
		}
		if lo <= b && b <= hi {
			ok = true
		}
		j++
	}
	return false, 0, false
}
