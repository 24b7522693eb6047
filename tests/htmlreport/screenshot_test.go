// Package htmlreport renders `immunix check --format html` in headless
// Chromium and checks the screenshot is the page meant: not blank, and the
// coverage chart drawn with the proportions of the report.
package htmlreport

import (
	"context"
	"encoding/json"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/immunix/immunix/check/htmlreport"
	"github.com/immunix/immunix/internal/testenv"
)

const prog = `#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	char buf[32];
	strncpy(buf, argv[0], sizeof buf - 1);
	buf[sizeof buf - 1] = 0;
	printf("%zu %d\n", strlen(buf), argc);
	return 0;
}
`

func hexColor(s string) color.RGBA {
	var c color.RGBA
	for i, p := range []*uint8{&c.R, &c.G, &c.B} {
		var v uint8
		for _, ch := range s[1+2*i : 3+2*i] {
			v <<= 4
			switch {
			case ch >= '0' && ch <= '9':
				v |= uint8(ch - '0')
			case ch >= 'a' && ch <= 'f':
				v |= uint8(ch-'a') + 10
			}
		}
		*p = v
	}
	c.A = 255
	return c
}

func TestScreenshot(t *testing.T) {
	chromium := testenv.NeedsTool(t, "chromium")
	testenv.NeedsTool(t, "gcc")
	bin := testenv.Binaries(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	// One program through immunix-cc, one plain without canary or PIE: the
	// chart has passing and failing segments.
	cc := exec.Command(filepath.Join(bin, "immunix-cc"), "-O2", "-o", filepath.Join(dir, "protected"), src)
	cc.Env = append(os.Environ(), "IMMUNIX_CACHE_DIR="+filepath.Join(dir, "cache"), "IMMUNIX_CONFIG=/nonexistent")
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("immunix-cc: %v\n%s", err, out)
	}
	if out, err := exec.Command("/usr/bin/gcc", "-O2", "-fno-stack-protector", "-no-pie", "-o", filepath.Join(dir, "plain"), src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	page := filepath.Join(dir, "report.html")
	js := filepath.Join(dir, "report.json")
	for format, out := range map[string]string{"html": page, "json": js} {
		c := exec.Command(filepath.Join(bin, "immunix"), "check", "--format", format, "-o", out, "--progress", "never",
			filepath.Join(dir, "protected"), filepath.Join(dir, "plain"))
		if o, err := c.CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("immunix check --format %s: %v\n%s", format, err, o)
			}
		}
	}

	// What the chart must show: per property, the share of pass and fail.
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Files []struct {
			Results []struct{ Property, Status string }
		}
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	type tally struct{ pass, fail, all int }
	per := map[string]*tally{}
	for _, f := range rep.Files {
		for _, r := range f.Results {
			if per[r.Property] == nil {
				per[r.Property] = &tally{}
			}
			per[r.Property].all++
			switch r.Status {
			case "pass":
				per[r.Property].pass++
			case "fail":
				per[r.Property].fail++
			}
		}
	}
	var wantPass, wantFail float64 // bar areas in pixels: width 560, height 18
	for _, c := range per {
		wantPass += 560 * 18 * float64(c.pass) / float64(c.all)
		wantFail += 560 * 18 * float64(c.fail) / float64(c.all)
	}

	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "chromium-profile"), "--force-color-profile=srgb",
		"--force-device-scale-factor=1", "--hide-scrollbars", "--window-size=1280,1400",
		"--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	pass, fail := hexColor(htmlreport.ColorPass), hexColor(htmlreport.ColorFail)
	var nPass, nFail, nonWhite, total int
	colors := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			total++
			colors[c] = true
			if c.R < 250 || c.G < 250 || c.B < 250 {
				nonWhite++
			}
			switch c {
			case pass:
				nPass++
			case fail:
				nFail++
			}
		}
	}
	t.Logf("screenshot %dx%d: %d colours, %.1f%% not white; chart pass %d px (want ~%.0f), fail %d px (want ~%.0f)",
		b.Dx(), b.Dy(), len(colors), 100*float64(nonWhite)/float64(total), nPass, wantPass, nFail, wantFail)
	if len(colors) < 50 || float64(nonWhite) < 0.03*float64(total) {
		t.Errorf("the screenshot looks blank: %d colours, %d of %d pixels not white", len(colors), nonWhite, total)
	}
	// The chart: its exact colours cover the bars' areas (the legend adds
	// 144 px each; anti-aliased edges take a few).
	for _, c := range []struct {
		name string
		got  int
		want float64
	}{{"pass", nPass, wantPass}, {"fail", nFail, wantFail}} {
		if c.want == 0 {
			t.Fatalf("the report has no %s segment to draw", c.name)
		}
		if float64(c.got) < 0.9*c.want || float64(c.got) > 1.1*c.want+200 {
			t.Errorf("chart %s colour covers %d px, want about %.0f: not the chart of this report", c.name, c.got, c.want)
		}
	}
}
