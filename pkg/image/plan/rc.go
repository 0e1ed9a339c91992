package plan

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/rc"
)

// resolveRc reads and checks the definitions of rc: from, as svrc check
// would at boot, and records them.
func (p *Plan) resolveRc() error {
	d := p.Def
	if len(d.Rc.From) == 0 {
		return nil
	}
	var dirs []string
	for _, w := range d.Rc.From {
		dir := p.abs(w.Value)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return p.defErr(w.Line, "rc: from: no directory %s", dir)
		}
		dirs = append(dirs, dir)
	}
	db, probs := rc.Load(dirs...)
	if probs != nil {
		return p.defErr(d.Rc.From[0].Line, "rc: invalid service definitions (svrc check says the same):\n%v", probs)
	}
	line := d.Rc.Bundle.Line
	if d.Rc.Bundle.Value == "" {
		line = d.Rc.From[0].Line
	}
	if _, err := db.Resolve([]string{p.Settings.RcBundle}); err != nil {
		return p.defErr(line, "rc: bundle: %v", err)
	}
	for _, n := range db.Names() {
		if s := db.Services[n]; s.Dir != "" && filepath.Base(s.Dir) == n {
			p.Rc = append(p.Rc, ServiceDir{Name: n, Src: s.Dir})
		}
	}
	return nil
}

// layoutRc installs the definitions in rc.DefaultDefs.
func (p *Plan) layoutRc(a *cpio.Archive) error {
	if len(p.Rc) == 0 {
		return nil
	}
	dst := strings.TrimPrefix(rc.DefaultDefs, "/")
	if err := a.Dir(dst, 0o755, PartServices); err != nil {
		return err
	}
	for _, s := range p.Rc {
		if err := a.AddTree(s.Src, dst+"/"+s.Name, PartServices); err != nil {
			return err
		}
	}
	return nil
}
