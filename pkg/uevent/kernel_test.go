package uevent

import (
	"errors"
	"os"
	"testing"
	"time"
)

// TestKernelEvent asks the kernel for a "change" event on /dev/null's
// device (harmless: nothing acts on it) and checks that Conn receives and
// parses it. Needs root and a writable sysfs in the initial network
// namespace (the kernel only broadcasts there).
func TestKernelEvent(t *testing.T) {
	const dev = "/devices/virtual/mem/null"
	if os.Getuid() != 0 {
		t.Fatal("needs root to write to /sys" + dev + "/uevent: run the tests as root")
	}
	c, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := os.WriteFile("/sys"+dev+"/uevent", []byte("change"), 0); err != nil {
		t.Fatalf("cannot trigger a kernel event (needs a writable /sys, as root): %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ok, err := c.Pending(1000)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		ev, err := c.Read()
		if errors.Is(err, ErrSkipped) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.DevPath == dev && ev.Action == "change" {
			if ev.Subsystem != "mem" || ev.Env["DEVNAME"] != "null" || ev.SeqNum == 0 {
				t.Fatalf("event %+v", ev)
			}
			return
		}
	}
	t.Fatal("no kernel event arrived in 30 s (the kernel broadcasts uevents only in the initial network namespace: run the tests there)")
}
