package hub

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kibitzbox/kibitzbox/internal/galaxy"
	"github.com/kibitzbox/kibitzbox/internal/status"
	"github.com/kibitzbox/kibitzbox/internal/testenv"
)

// moduleRoot finds the directory holding go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func goBuild(t *testing.T, dir, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s in %s: %v\n%s", pkg, dir, err, b)
	}
}

type hubProcess struct {
	cmd    *exec.Cmd
	blob   string
	stderr *strings.Builder
	status string
	stop   func() string
}

// startHubProcess runs the hub binary and waits for its BLOB line.
func startHubProcess(t *testing.T, bin, state string, ports map[string]int) *hubProcess {
	t.Helper()
	statusAddr := fmt.Sprintf("127.0.0.1:%d", ports["status"])
	cmd := exec.Command(bin,
		"--state", state,
		"--advertise", "127.0.0.1",
		"--port", fmt.Sprint(ports["hub"]),
		"--turn-port", fmt.Sprint(ports["turn"]),
		"--status", statusAddr,
		"--https", fmt.Sprintf("127.0.0.1:%d", ports["https"]),
		"--http", fmt.Sprintf("127.0.0.1:%d", ports["http"]),
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut := &strings.Builder{}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	errDone := make(chan struct{})
	go func() {
		b, _ := io.ReadAll(stderrPipe)
		errOut.Write(b)
		close(errDone)
	}()
	p := &hubProcess{cmd: cmd, stderr: errOut, status: "http://" + statusAddr + "/status"}
	blobCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "BLOB"); ok {
				blobCh <- strings.TrimSpace(v)
			}
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	select {
	case p.blob = <-blobCh:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-errDone
		t.Fatalf("hub printed no BLOB line within 20 s; stderr:\n%s", errOut.String())
	}
	p.stop = func() string {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hub exited with %v", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("hub did not stop within 15 s of SIGTERM")
			<-done
		}
		<-errDone
		return errOut.String()
	}
	return p
}

func (p *hubProcess) Stop() string { return p.stop() }

// TestHubBinaryConformanceAndRestart runs the built hub and requires every
// hubprobe conformance check to pass, then checks /status, /metrics, the
// log, a restart with the same state and recovery from a corrupt identity.
func TestHubBinaryConformanceAndRestart(t *testing.T) {
	root := moduleRoot(t)
	tmp := t.TempDir()
	hubBin := filepath.Join(tmp, "hub")
	probeBin := filepath.Join(tmp, "hubprobe")
	goBuild(t, root, hubBin, "./cmd/hub")
	goBuild(t, root, probeBin, "./tools/hubprobe")

	// The version string itself comes from the build; it must be one line.
	out, err := exec.Command(hubBin, "--version").Output()
	if v := strings.TrimSpace(string(out)); err != nil || v == "" || strings.Contains(v, "\n") {
		t.Fatalf("--version printed %q (%v)", out, err)
	}
	help, _ := exec.Command(hubBin, "--help").CombinedOutput()
	for _, f := range []string{"state", "advertise", "port", "turn-port", "discoverable", "status", "room", "room-cap", "https", "http", "tls-cert", "tls-key", "turn-clients", "version"} {
		if !strings.Contains(string(help), "-"+f+" ") && !strings.Contains(string(help), "-"+f+"\n") {
			t.Errorf("--help does not document -%s:\n%s", f, help)
		}
	}

	ports := map[string]int{"hub": testenv.FreePort(t, "udp"), "turn": testenv.FreePort(t, "udp"), "status": testenv.FreePort(t, "tcp"), "https": testenv.FreePort(t, "tcp"), "http": testenv.FreePort(t, "tcp")}
	state := filepath.Join(tmp, "state")
	p := startHubProcess(t, hubBin, state, ports)
	b, err := galaxy.ParseBlob(p.blob)
	if err != nil || b.TURN == nil || b.TURN.Port != ports["turn"] || b.Endpoints[0].Addr != "127.0.0.1" || b.Endpoints[0].Port != ports["hub"] {
		t.Fatalf("blob %q: %+v %v", p.blob, b, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	probe := exec.CommandContext(ctx, probeBin, "conformance", "--blob", p.blob, "--drop-timeout", "15s")
	probeOut, err := probe.CombinedOutput()
	t.Logf("hubprobe conformance:\n%s", probeOut)
	if err != nil {
		t.Fatalf("hubprobe conformance failed: %v", err)
	}
	if strings.Contains(string(probeOut), "FAIL") || !strings.Contains(string(probeOut), " 0 failed") {
		t.Fatal("hubprobe conformance reported failures")
	}

	var doc status.Hub
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := status.Fetch(sctx, http.DefaultClient, p.status, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Blob != p.blob || doc.TURN.Port != ports["turn"] || doc.Drops["malformed"] == 0 || doc.DefaultRoom != "lobby" {
		raw, _ := json.Marshal(doc)
		t.Fatalf("status document does not reflect the run: %s", raw)
	}
	resp, err := http.Get(strings.TrimSuffix(p.status, "/status") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metricsText), `kibitz_hub_dropped_total{reason="malformed"}`) {
		t.Fatalf("metrics lack the drop counters:\n%s", metricsText)
	}
	logs := p.Stop()
	for _, secret := range []string{b.Pwd, b.TURN.Pass} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log contains a secret of the blob")
		}
	}

	// A restart with the same state keeps the link.
	p2 := startHubProcess(t, hubBin, state, ports)
	if p2.blob != p.blob {
		t.Fatalf("blob changed across a restart:\n%s\n%s", p.blob, p2.blob)
	}
	p2.Stop()

	// A corrupt identity never stops the hub: a new one is made and the
	// log says the old links stop working.
	if err := os.WriteFile(filepath.Join(state, galaxy.IdentityFile), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	p3 := startHubProcess(t, hubBin, state, ports)
	if p3.blob == p.blob {
		t.Fatal("corrupt identity file gave the old blob back")
	}
	logs = p3.Stop()
	if !strings.Contains(logs, "stop working") {
		t.Fatalf("log does not say old links stop working:\n%s", logs)
	}
	if m, _ := filepath.Glob(filepath.Join(state, galaxy.IdentityFile+".corrupt-*")); len(m) != 1 {
		t.Fatalf("corrupt identity not moved aside: %v", m)
	}
}
