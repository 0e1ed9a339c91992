package boot

import (
	"fmt"
	"testing"
	"time"
)

// consoleCommands is how many commands TestConsoleNothingLost types.
const consoleCommands = 120

// TestConsoleNothingLost types commands on the serial console the way an
// expect script or a serial-over-LAN session does: a raw line that
// answers no terminal query and emulates no terminal. The first command
// goes as soon as the getty's prompt shows (kernel messages limited to
// emergencies so that they cannot split an answer), then each command
// as soon as the previous one answered; every one must be answered, on
// the one boot. Along the way: ps -e every tenth command, a line typed
// with no pause after a command's own (the command reads it), and a
// command reading the terminal, interrupted with ^C.
func TestConsoleNothingLost(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, minimalImage)
	g := boot(t, e, "console", img, bootOpts{append: []string{"loglevel=1"}})
	g.expect(bootTimeout, "svinit on ")
	g.expect(bootTimeout, gettyPromptSeq)
	shown := time.Now()
	var first time.Duration
	for i := 1; i <= consoleCommands; i++ {
		// $((i)) is expanded by the shell: the echo of the typed line
		// never holds the answer.
		cmd := fmt.Sprintf("echo mark$((%d))x", i)
		if i%10 == 0 {
			cmd = "ps -e; " + cmd
		}
		g.send(cmd + "\r")
		// (The host's side of the console is a pseudo-terminal that
		// adds its own carriage returns: the answer is matched alone.)
		g.expect(cmdTimeout, fmt.Sprintf("mark%dx", i))
		if i == 1 {
			first = time.Since(shown)
		}
		if i == consoleCommands/2 {
			// What is typed right after a command's line is the
			// command's, even with no pause at all.
			g.send("read v; echo \"got-$v\"\r")
			g.send("typed-ahead\r")
			g.expect(cmdTimeout, "got-typed-ahead")
			// A command that reads the terminal (cat, once its parent
			// said it runs) gets what is typed: the kernel's echo, then
			// cat's copy. ^C ends it, and the shell goes on.
			g.send("gosh -c 'echo ready-$((7)); cat'\r")
			g.expect(cmdTimeout, "ready-7")
			g.send("to-cat\r")
			g.expect(cmdTimeout, "to-cat")
			g.expect(cmdTimeout, "to-cat")
			g.send("\x03")
			g.expect(cmdTimeout, "^C")
			g.expect(cmdTimeout, gettyPromptSeq)
		}
	}
	total := time.Since(shown)
	t.Logf("%d commands answered on the serial console: the first %.2fs after the prompt showed, all in %.1fs (%.0f ms each; accel %s)",
		consoleCommands, first.Seconds(), total.Seconds(), total.Seconds()*1000/consoleCommands, e.accel)
	shutdown(t, g, "poweroff", "")
}
