package supervise

// The files a service writes or reads while it is supervised: supervise/status, event/, ./down, the death tally and the configuration files.

import (
	"github.com/svinit/svinit/pkg/fifodir"
	"github.com/svinit/svinit/pkg/s6status"
	"github.com/svinit/svinit/pkg/servicedir"
	"golang.org/x/sys/unix"
)

// Event bytes written to event/, as s6-supervise writes them.
const (
	EventStart    = 's' // supervisor started
	EventUp       = 'u' // ./run spawned
	EventReady    = 'U' // ./run notified readiness
	EventDown     = 'd' // ./run died
	EventDownDone = 'D' // ./finish done (or none): really down
	EventPermFail = 'O' // ./finish exited 125: will not restart
	EventExit     = 'x' // supervisor exiting
)

func (s *Service) announce() {
	if err := s6status.WriteAt(s.dfd, &s.status); err != nil {
		s.logQ("write supervise/status: %v", err)
	}
}

func (s *Service) event(ev byte) {
	fifodir.NotifyAt(s.dfd, "event", []byte{ev})
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
func (s *Service) recordDeath(rec [DeathRecordSize]byte) {
	tally, err := readDeaths(s.dfd, s.cfg.MaxDeathTally-1)
	if err != nil {
		s.logQ("%s: %v: starting a new tally", tallyFile, err)
		tally = nil
	}
	if _, err := appendDeath(s.dfd, tally, rec, s.cfg.MaxDeathTally); err != nil {
		s.logQ("%v", err)
	}
}

// writeRestart writes supervise/svinit-restart when the restart state
// changed since it was last written.
func (s *Service) writeRestart() {
	if s.rsOnce && s.rs == s.rsFile || !s.rsOnce && s.rs == (s6status.Restart{}) {
		return // unchanged, or nothing to say yet (New removed any old file)
	}
	if err := s6status.WriteRestartAt(s.dfd, &s.rs); err != nil {
		s.logQ("write %s: %v", s6status.RestartFile, err)
		return
	}
	s.rsFile, s.rsOnce = s.rs, true
}
