package thumbnail_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/image/bmp"

	"github.com/mediamesh/mediamesh/services/media/thumbnail"
)

// gradient is an opaque w×h image with smooth colour changes in both directions.
func gradient(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(255 * x / w), uint8(255 * y / h), uint8(255 * (x + y) / (w + h)), 0xff})
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkRendition checks the fields of r and that its data is a JPEG of its dimensions.
func checkRendition(t *testing.T, r thumbnail.Rendition, size string, w, h int) image.Image {
	t.Helper()
	if r.Size != size || r.Width != w || r.Height != h || r.ContentType != "image/jpeg" {
		t.Fatalf("rendition %q %dx%d %s, want %q %dx%d image/jpeg", r.Size, r.Width, r.Height, r.ContentType, size, w, h)
	}
	m, format, err := image.Decode(bytes.NewReader(r.Data))
	if err != nil || format != "jpeg" {
		t.Fatalf("rendition %q does not decode as JPEG: %s, %v", size, format, err)
	}
	if b := m.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("rendition %q decodes as %dx%d, want %dx%d", size, b.Dx(), b.Dy(), w, h)
	}
	return m
}

func TestGenerateDefaultSizes(t *testing.T) {
	src := encodePNG(t, gradient(1920, 1080))
	got, err := thumbnail.Generate(bytes.NewReader(src), thumbnail.DefaultSizes)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		size string
		w, h int
	}{{"small", 320, 180}, {"medium", 640, 360}, {"large", 1280, 720}}
	if len(got) != len(want) {
		t.Fatalf("%d renditions, want %d", len(got), len(want))
	}
	for i, w := range want {
		m := checkRendition(t, got[i], w.size, w.w, w.h)
		// The content survives the resize: the gradient's corners keep their colours.
		r, g, _, _ := m.At(w.w-1, 0).RGBA()
		if r>>8 < 230 || g>>8 > 25 {
			t.Errorf("%s: top-right pixel r=%d g=%d, want red-ish", w.size, r>>8, g>>8)
		}
	}
}

func TestGenerateNeverUpscales(t *testing.T) {
	got, err := thumbnail.Generate(bytes.NewReader(encodePNG(t, gradient(200, 100))), thumbnail.DefaultSizes)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d renditions, want 1", len(got))
	}
	checkRendition(t, got[0], "small", 200, 100)
}

func TestGenerateOnlyNarrowerSizes(t *testing.T) {
	tests := []struct {
		name  string
		w, h  int
		sizes []thumbnail.Size
		want  []thumbnail.Rendition
	}{
		{"as wide as medium", 640, 480, thumbnail.DefaultSizes, []thumbnail.Rendition{{Size: "small", Width: 320, Height: 240}}},
		{"just wider than medium", 641, 480, thumbnail.DefaultSizes, []thumbnail.Rendition{
			{Size: "small", Width: 320, Height: 240}, {Size: "medium", Width: 640, Height: 479},
		}},
		{"as wide as small", 320, 10, thumbnail.DefaultSizes, []thumbnail.Rendition{{Size: "small", Width: 320, Height: 10}}},
		{"sizes in the caller's order", 500, 1500, []thumbnail.Size{{"b", 400}, {"a", 100}}, []thumbnail.Rendition{
			{Size: "b", Width: 400, Height: 1200}, {Size: "a", Width: 100, Height: 300},
		}},
		{"named after the narrowest size", 50, 50, []thumbnail.Size{{"b", 500}, {"a", 100}, {"c", 300}}, []thumbnail.Rendition{
			{Size: "a", Width: 50, Height: 50},
		}},
		{"height at least one pixel", 2000, 1, thumbnail.DefaultSizes, []thumbnail.Rendition{
			{Size: "small", Width: 320, Height: 1}, {Size: "medium", Width: 640, Height: 1}, {Size: "large", Width: 1280, Height: 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := thumbnail.Generate(bytes.NewReader(encodePNG(t, gradient(tc.w, tc.h))), tc.sizes)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d renditions, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				checkRendition(t, got[i], w.Size, w.Width, w.Height)
			}
		})
	}
}

func TestGenerateFlattensAlphaOnWhite(t *testing.T) {
	// Left third transparent, middle third half-transparent black, right third opaque red.
	src := image.NewNRGBA(image.Rect(0, 0, 900, 300))
	for y := range 300 {
		for x := 300; x < 600; x++ {
			src.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 0x80})
		}
		for x := 600; x < 900; x++ {
			src.SetNRGBA(x, y, color.NRGBA{0xff, 0, 0, 0xff})
		}
	}
	got, err := thumbnail.Generate(bytes.NewReader(encodePNG(t, src)), thumbnail.DefaultSizes[:1])
	if err != nil {
		t.Fatal(err)
	}
	m := checkRendition(t, got[0], "small", 320, 107)
	for _, p := range []struct {
		x       int
		r, g, b uint32
	}{{50, 0xff, 0xff, 0xff}, {160, 0x7f, 0x7f, 0x7f}, {270, 0xff, 0, 0}} {
		r, g, b, _ := m.At(p.x, 50).RGBA()
		if !near(r>>8, p.r) || !near(g>>8, p.g) || !near(b>>8, p.b) {
			t.Errorf("pixel at x=%d is (%d, %d, %d), want about (%d, %d, %d)", p.x, r>>8, g>>8, b>>8, p.r, p.g, p.b)
		}
	}
}

// near reports whether two 8-bit channel values are within JPEG's error of each other.
func near(a, b uint32) bool { return max(a, b)-min(a, b) <= 8 }

func TestGenerateWebP(t *testing.T) {
	tests := []struct {
		file string
		want []thumbnail.Rendition
	}{
		{"gopher-doc.1bpp.lossless.webp", []thumbnail.Rendition{{Size: "small", Width: 75, Height: 100}}},
		{"yellow_rose.lossy-with-alpha.webp", []thumbnail.Rendition{{Size: "small", Width: 320, Height: 241}}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if w, h, ok := thumbnail.Dimensions(bytes.NewReader(data)); !ok || w == 0 || h == 0 {
				t.Fatalf("Dimensions = %d, %d, %v", w, h, ok)
			}
			got, err := thumbnail.Generate(bytes.NewReader(data), thumbnail.DefaultSizes)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d renditions, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				checkRendition(t, got[i], w.Size, w.Width, w.Height)
			}
		})
	}
}

func TestGenerateGIFFirstFrameOnItsScreen(t *testing.T) {
	// A 100×50 logical screen whose first frame only covers (10,10)-(30,30), in black.
	frame := image.NewPaletted(image.Rect(10, 10, 30, 30), color.Palette{color.Black, color.White})
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image: []*image.Paletted{frame}, Delay: []int{0},
		Config: image.Config{Width: 100, Height: 50, ColorModel: frame.Palette},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := thumbnail.Generate(&buf, thumbnail.DefaultSizes)
	if err != nil {
		t.Fatal(err)
	}
	m := checkRendition(t, got[0], "small", 100, 50)
	if r, _, _, _ := m.At(20, 20).RGBA(); r>>8 > 16 {
		t.Errorf("frame pixel r=%d, want black", r>>8)
	}
	if r, _, _, _ := m.At(80, 40).RGBA(); r>>8 < 240 {
		t.Errorf("pixel outside the frame r=%d, want white", r>>8)
	}
}

// pngChunk is a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// pngHeader is a valid PNG signature and IHDR (8-bit RGB) for w×h followed by a small IDAT of
// zeros and IEND: a file of a few hundred bytes that claims any size.
func pngHeader(t testing.TB, w, h uint32) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, w), h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", z.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

func TestGenerateRefusesDecompressionBombs(t *testing.T) {
	gifBomb := []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\xff\xff\xff\xff\x00\x02\x02D\x01\x00;")
	jpegBomb := []byte{0xff, 0xd8, // SOI, a JFIF APP0, then a baseline SOF0 of 65535×65535
		0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
		0xff, 0xc0, 0x00, 0x11, 0x08, 0xff, 0xff, 0xff, 0xff, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01}
	for name, data := range map[string][]byte{
		"png 100000x100000":  pngHeader(t, 100000, 100000),
		"png one pixel over": pngHeader(t, 10000, 5001),
		"gif 65535x65535":    gifBomb,
		"jpeg 65535x65535":   jpegBomb,
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := thumbnail.Generate(bytes.NewReader(data), thumbnail.DefaultSizes)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, thumbnail.ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 1<<20 {
				t.Errorf("refusing the image allocated %d bytes", allocated)
			}
			if elapsed > time.Second {
				t.Errorf("refusing the image took %v", elapsed)
			}
		})
	}

	// Exactly MaxPixels is not too large: this GIF's 10000×5000 screen passes the check, and the
	// file fails later, having no frame.
	atLimit := []byte("GIF89a\x10\x27\x88\x13\x00\x00\x00;")
	_, err := thumbnail.Generate(bytes.NewReader(atLimit), thumbnail.DefaultSizes)
	if !errors.Is(err, thumbnail.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestGenerateRefusesBadInput(t *testing.T) {
	valid := encodePNG(t, gradient(400, 300))
	var bmpData bytes.Buffer
	if err := bmp.Encode(&bmpData, gradient(400, 300)); err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 2048)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rnd.Uint32())
	}
	corruptPixels := bytes.Clone(valid)
	for i := len(corruptPixels) / 2; i < len(corruptPixels)/2+64; i++ {
		corruptPixels[i] ^= 0x5a
	}
	avif := []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf\x00\x00\x00\x00")

	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, thumbnail.ErrUnsupported},
		{"noise", noise, thumbnail.ErrUnsupported},
		{"text", []byte("this is not an image"), thumbnail.ErrUnsupported},
		{"truncated png", valid[:len(valid)/2], thumbnail.ErrCorrupt},
		{"corrupt png", corruptPixels, thumbnail.ErrCorrupt},
		{"truncated jpeg", encodeJPEG(t, gradient(400, 300), 80)[:500], thumbnail.ErrCorrupt},
		{"png header only", valid[:33], thumbnail.ErrCorrupt},
		{"png cut in its header", valid[:20], thumbnail.ErrCorrupt},
		{"bmp", bmpData.Bytes(), thumbnail.ErrUnsupported},
		{"avif", avif, thumbnail.ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := thumbnail.Generate(bytes.NewReader(tc.data), thumbnail.DefaultSizes)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Generate = %d renditions, %v; want %v", len(got), err, tc.want)
			}
		})
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestGenerateReturnsReadErrors(t *testing.T) {
	errNetwork := errors.New("connection reset")
	valid := encodePNG(t, gradient(400, 300))
	for name, data := range map[string][]byte{
		"before anything":     nil,
		"inside the header":   valid[:20],
		"after the header":    valid[:100],
		"inside the pixels":   valid[:len(valid)/2],
		"just before the end": valid[:len(valid)-1],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := thumbnail.Generate(&failingReader{data: data, err: errNetwork}, thumbnail.DefaultSizes)
			if !errors.Is(err, errNetwork) {
				t.Fatalf("err = %v, want the read error", err)
			}
			if errors.Is(err, thumbnail.ErrCorrupt) || errors.Is(err, thumbnail.ErrUnsupported) {
				t.Fatalf("err = %v: a read error taken for a bad image", err)
			}
		})
	}
}

func TestGenerateRefusesInvalidSizes(t *testing.T) {
	src := encodePNG(t, gradient(10, 10))
	for _, sizes := range [][]thumbnail.Size{nil, {}, {{"", 320}}, {{"small", 0}}, {{"small", 320}, {"x", -1}}} {
		if _, err := thumbnail.Generate(bytes.NewReader(src), sizes); err == nil {
			t.Errorf("Generate with sizes %v: no error", sizes)
		}
	}
}

func TestDimensions(t *testing.T) {
	webp, err := os.ReadFile("testdata/gopher-doc.1bpp.lossless.webp")
	if err != nil {
		t.Fatal(err)
	}
	var gifData bytes.Buffer
	if err := gif.Encode(&gifData, gradient(33, 44), nil); err != nil {
		t.Fatal(err)
	}
	var bmpData bytes.Buffer
	if err := bmp.Encode(&bmpData, gradient(5, 6)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		w, h int
		ok   bool
	}{
		{"png", encodePNG(t, gradient(123, 45)), 123, 45, true},
		{"jpeg", encodeJPEG(t, gradient(64, 48), 80), 64, 48, true},
		{"gif", gifData.Bytes(), 33, 44, true},
		{"webp lossless", webp, 75, 100, true},
		{"webp 1x1", []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"), 1, 1, true},
		{"png bomb header", pngHeader(t, 100000, 100000), 100000, 100000, true},
		{"avif", []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"), 0, 0, false},
		{"bmp", bmpData.Bytes(), 0, 0, false},
		{"garbage", []byte("garbage"), 0, 0, false},
		{"empty", nil, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, h, ok := thumbnail.Dimensions(bytes.NewReader(tc.data))
			if w != tc.w || h != tc.h || ok != tc.ok {
				t.Fatalf("Dimensions = %d, %d, %v; want %d, %d, %v", w, h, ok, tc.w, tc.h, tc.ok)
			}
		})
	}
}

// photo is a 1920×1080 JPEG that compresses like a photograph: smooth shading, edges and sensor
// noise, at quality 90.
func photo(b *testing.B) []byte {
	const w, h = 1920, 1080
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	rnd := rand.New(rand.NewPCG(3, 4))
	for y := range h {
		for x := range w {
			r := 40 + 150*y/h
			g := 90 + 100*x/w
			bl := 200 - 120*y/h
			dx, dy := x-1200, y-500
			if dx*dx+dy*dy < 300*300 { // a bright disc
				r, g, bl = 230-dx/8, 200-dy/8, 120
			}
			if (x/160+y/90)%7 == 0 { // some blocks of detail
				r, g, bl = r/2, g/2+60, bl/2
			}
			n := rnd.IntN(17) - 8
			m.SetRGBA(x, y, color.RGBA{clamp(r + n), clamp(g + n), clamp(bl + n), 0xff})
		}
	}
	return encodeJPEG(b, m, 90)
}

func clamp(v int) uint8 { return uint8(min(max(v, 0), 255)) }

func BenchmarkGenerate1920(b *testing.B) {
	src := photo(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		got, err := thumbnail.Generate(bytes.NewReader(src), thumbnail.DefaultSizes)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != 3 {
			b.Fatalf("%d renditions", len(got))
		}
	}
}
