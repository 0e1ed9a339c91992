package execline

import "strings"

// Substitute performs execline's variable substitution on argv: every
// $name or ${name} whose name is a key of vars is replaced by its values.
// An unbraced name runs up to the next $, {, } or \ (or the end of the
// word). A variable with several values turns the word into one word per
// value (a cartesian product when a word holds several of them); a
// variable with no value removes the word. A run of k backslashes just
// before a reference to a defined variable becomes k/2 backslashes, and
// when k is odd the reference is kept literally. Undefined references and
// their backslashes are left alone. Substituted values are never rescanned.
func Substitute(argv []string, vars map[string][]string) []string {
	out := make([]string, 0, len(argv))
	for _, w := range argv {
		if !strings.ContainsRune(w, '$') {
			out = append(out, w)
			continue
		}
		out = append(out, substWord(w, vars)...)
	}
	return out
}

// SubstitutePos is Substitute carrying word positions along: every word
// a word turns into keeps its position.
func SubstitutePos(argv []string, pos []Pos, vars map[string][]string) ([]string, []Pos) {
	out := make([]string, 0, len(argv))
	var outPos []Pos
	for i, w := range argv {
		words := []string{w}
		if strings.ContainsRune(w, '$') {
			words = substWord(w, vars)
		}
		out = append(out, words...)
		if i < len(pos) {
			for range words {
				outPos = append(outPos, pos[i])
			}
		}
	}
	if len(outPos) != len(out) {
		outPos = nil
	}
	return out, outPos
}

// ref finds a variable reference at w[i] == '$'. It returns the name,
// the index just past the reference, and whether it is well formed.
func ref(w string, i int) (name string, end int, ok bool) {
	j := i + 1
	if j < len(w) && w[j] == '{' {
		k := strings.IndexByte(w[j+1:], '}')
		if k < 0 {
			return "", 0, false
		}
		return w[j+1 : j+1+k], j + 1 + k + 1, true
	}
	k := j
	for k < len(w) && !strings.ContainsRune("${}\\", rune(w[k])) {
		k++
	}
	if k == j {
		return "", 0, false
	}
	return w[j:k], k, true
}

func substWord(w string, vars map[string][]string) []string {
	// parts alternate literal text and value lists; results is the
	// product built so far.
	results := []string{""}
	var lit strings.Builder
	flush := func() {
		if lit.Len() == 0 {
			return
		}
		for i := range results {
			results[i] += lit.String()
		}
		lit.Reset()
	}
	i := 0
	for i < len(w) {
		c := w[i]
		if c != '\\' && c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		// count backslashes
		j := i
		for j < len(w) && w[j] == '\\' {
			j++
		}
		k := j - i
		if j >= len(w) || w[j] != '$' {
			lit.WriteString(w[i:j])
			i = j
			continue
		}
		name, end, ok := ref(w, j)
		vals, defined := vars[name]
		if !ok || !defined {
			lit.WriteString(w[i : j+1])
			i = j + 1
			continue
		}
		lit.WriteString(strings.Repeat("\\", k/2))
		if k%2 == 1 {
			lit.WriteString(w[j:end])
			i = end
			continue
		}
		flush()
		if len(vals) == 0 {
			return nil
		}
		next := make([]string, 0, len(results)*len(vals))
		for _, r := range results {
			for _, v := range vals {
				next = append(next, r+v)
			}
		}
		results = next
		i = end
	}
	flush()
	return results
}

// PositionalVars builds the substitution table execlineb -S/-s uses:
// 0 is the script name, 1..max(n, len(args)) the arguments (missing ones
// empty), # the number of arguments, and @ all arguments (-S) or those
// after the first n (-s, shift true).
func PositionalVars(name string, args []string, n int, shift bool) map[string][]string {
	vars := map[string][]string{
		"0": {name},
		"#": {itoa(len(args))},
	}
	m := max(n, len(args))
	for i := 1; i <= m; i++ {
		v := ""
		if i <= len(args) {
			v = args[i-1]
		}
		vars[itoa(i)] = []string{v}
	}
	at := args
	if shift {
		if n < len(args) {
			at = args[n:]
		} else {
			at = nil
		}
	}
	vars["@"] = append([]string{}, at...)
	return vars
}
