package supervise

// The files a service writes or reads while it is supervised: supervise/status, event/, ./down, the death tally and the configuration files.

import (
	"github.com/svinit/svinit/pkg/servicedir"
	"golang.org/x/sys/unix"
)

func (s *Service) announce() {
	if err := servicedir.WriteStatusAt(s.dfd, &s.status); err != nil {
		s.logQ("write supervise/status: %v", err)
	}
}

func (s *Service) event(ev byte) {
	servicedir.NotifyFifodirAt(s.dfd, "event", []byte{ev})
}

// createDown creates ./down, never through a link nor waiting on a FIFO
// (the poller's goroutine is every service's).
func (s *Service) createDown() {
	fd, err := unix.Openat(s.dfd, "down", unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o644)
	switch err {
	case nil:
		unix.Close(fd)
	case unix.ELOOP, unix.ENXIO, unix.EISDIR, unix.ETXTBSY:
		// Something is there already (a link, a FIFO, a directory).
	default:
		s.logQ("create ./down: %v", err)
	}
}

// reread reads the named files of the service directory (without
// blocking: see package servicedir) and reports what cannot be used.
func (s *Service) reread(names ...string) servicedir.Config {
	c := servicedir.ReadFiles(s.dfd, s.dir, names...)
	s.warn(c.Warnings)
	return c
}

// warn reports configuration warnings, each once until it goes away (a
// crash loop rereads the files every second).
func (s *Service) warn(ws []string) {
	for _, w := range ws {
		if !s.warned[w] {
			s.logQ("%s", w)
			if s.warned == nil {
				s.warned = map[string]bool{}
			}
			s.warned[w] = true
		}
	}
}

// recordDeath adds a record to supervise/death_tally, reread first (so
// that s6-svdt-clear works); a tally that cannot be read is started
// afresh, with a warning.
func (s *Service) recordDeath(rec [servicedir.DeathRecordSize]byte) {
	tally, err := servicedir.ReadDeaths(s.dfd, s.cfg.MaxDeathTally-1)
	if err != nil {
		s.logQ("%s: %v: starting a new tally", servicedir.DeathTallyFile, err)
		tally = nil
	}
	if _, err := servicedir.AppendDeath(s.dfd, tally, rec, s.cfg.MaxDeathTally); err != nil {
		s.logQ("%v", err)
	}
}

// writeRestart writes supervise/svinit-restart when the restart state
// changed since it was last written.
func (s *Service) writeRestart() {
	if s.rsOnce && s.rs == s.rsFile || !s.rsOnce && s.rs == (servicedir.Restart{}) {
		return // unchanged, or nothing to say yet (New removed any old file)
	}
	if err := servicedir.WriteRestartAt(s.dfd, &s.rs); err != nil {
		s.logQ("write %s: %v", servicedir.RestartFile, err)
		return
	}
	s.rsFile, s.rsOnce = s.rs, true
}
