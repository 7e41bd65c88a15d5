package testenv

import "testing"

func TestRequireProgramFindsSh(t *testing.T) {
	p := RequireProgram(t, "sh")
	if p[0] == "" {
		t.Fatal("empty path for sh")
	}
}
