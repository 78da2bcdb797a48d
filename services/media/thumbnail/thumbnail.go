// Package thumbnail renders the thumbnails of image assets: JPEG renditions at the named widths of
// the spec's ThumbnailSize (specs/openapi/media.yaml), resized with a Lanczos filter.
//
// It decodes JPEG, PNG, GIF (the first frame) and WebP. It refuses images of more than MaxPixels
// pixels before decoding them, from their header alone, so a small file that claims huge dimensions
// (a decompression bomb) costs nothing. Other formats, AVIF among them, are refused with
// ErrUnsupported.
package thumbnail

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // registers the GIF decoder
	"image/jpeg"
	_ "image/png" // registers the PNG decoder
	"io"
	"math"
	"slices"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/webp" // registers the WebP decoder
)

// MaxPixels is the largest image (width × height) Generate decodes: 50 megapixels.
const MaxPixels = 50_000_000

// Quality is the JPEG quality of the renditions.
const Quality = 82

// ContentType is the media type of every rendition.
const ContentType = "image/jpeg"

// Size is a named thumbnail width; the height follows from the image's aspect ratio.
type Size struct {
	// Name is the size's name, a ThumbnailSize of the spec such as "medium".
	Name string
	// Width is the rendition's width in pixels.
	Width int
}

// DefaultSizes are the spec's ThumbnailSize values, narrowest first.
var DefaultSizes = []Size{{"small", 320}, {"medium", 640}, {"large", 1280}}

// Rendition is one generated thumbnail.
type Rendition struct {
	// Size is the Name of the Size it was rendered for.
	Size string
	// Width and Height are its dimensions in pixels.
	Width, Height int
	// ContentType is its media type, always ContentType.
	ContentType string
	// Data is the encoded image.
	Data []byte
}

var (
	// ErrUnsupported is returned for images in a format the package does not decode.
	ErrUnsupported = errors.New("thumbnail: unsupported image format")
	// ErrTooLarge is returned for images of more than MaxPixels pixels.
	ErrTooLarge = errors.New("thumbnail: image too large")
	// ErrCorrupt is returned for image data that cannot be decoded: damaged, truncated, or
	// contradicting its own header.
	ErrCorrupt = errors.New("thumbnail: corrupt image")
)

// formats are the formats (as image.DecodeConfig names them) the package accepts. Other decoders may
// be registered in the program (imaging registers BMP and TIFF); they are not used.
var formats = map[string]bool{"jpeg": true, "png": true, "gif": true, "webp": true}

// Dimensions returns the width and height of a JPEG, PNG, GIF or WebP image from its header, without
// decoding the pixels; ok is false for any other content (AVIF included) and for a damaged header.
func Dimensions(r io.Reader) (width, height int, ok bool) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil || !formats[format] || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

// Generate decodes the image r holds and returns, in the order of sizes, one JPEG rendition (quality
// Quality) for every size narrower than the image, resized with a Lanczos filter and keeping the
// aspect ratio (the height is rounded to the nearest pixel, at least 1); a rendition is resized from
// an already rendered one when that one is at least twice as wide, else from the image. It never
// upscales: when no size is narrower than the image, it returns a single rendition at the image's own
// dimensions, named after the narrowest size. Transparent pixels are flattened on white; EXIF
// orientation is ignored.
//
// The header is checked before any pixel is decoded: images of more than MaxPixels pixels fail with
// ErrTooLarge, formats other than JPEG, PNG, GIF and WebP with ErrUnsupported, and undecodable data
// with ErrCorrupt. An error r returns (other than io.EOF) is returned wrapped instead, so that a
// failed read can be told apart from a bad image and retried. sizes must not be empty, and every
// size needs a name and a positive width.
func Generate(r io.Reader, sizes []Size) ([]Rendition, error) {
	if err := checkSizes(sizes); err != nil {
		return nil, err
	}
	img, err := decode(r)
	if err != nil {
		return nil, err
	}
	width := img.Bounds().Dx()

	var targets []Size
	for _, s := range sizes {
		if s.Width < width {
			targets = append(targets, s)
		}
	}
	if len(targets) == 0 {
		narrowest := sizes[0]
		for _, s := range sizes[1:] {
			if s.Width < narrowest.Width {
				narrowest = s
			}
		}
		targets = []Size{{Name: narrowest.Name, Width: width}}
	}

	// Widest first, so that a narrower rendition can be resized from a wider one: Lanczos from an
	// image at least twice as wide looks the same as from the original (about 54 dB PSNR between the
	// two on a photograph, far below JPEG's own error) and costs much less, the cost of a resize
	// being about that of reading its source.
	order := make([]int, len(targets))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(targets[b].Width, targets[a].Width) })

	out := make([]Rendition, len(targets))
	var made []*image.NRGBA // renditions so far, narrowest last
	for _, i := range order {
		t := targets[i]
		var dst *image.NRGBA
		if t.Width < width {
			var src image.Image = img
			for _, m := range slices.Backward(made) {
				if m.Rect.Dx() >= 2*t.Width {
					src = m
					break
				}
			}
			dst = imaging.Resize(src, t.Width, scaledHeight(img.Bounds(), t.Width), imaging.Lanczos)
		} else {
			dst = imaging.Clone(img)
		}
		// Flattening commutes with imaging's alpha-weighted resampling, so a flattened rendition is
		// as good a source for the next one as an unflattened one.
		flattenOnWhite(dst)
		var buf bytes.Buffer
		// Every pixel is opaque now, so the NRGBA pixels are RGBA pixels too: the encoder's fast path.
		opaque := &image.RGBA{Pix: dst.Pix, Stride: dst.Stride, Rect: dst.Rect}
		if err := jpeg.Encode(&buf, opaque, &jpeg.Options{Quality: Quality}); err != nil {
			return nil, fmt.Errorf("thumbnail: encoding the %s rendition: %w", t.Name, err)
		}
		out[i] = Rendition{
			Size:        t.Name,
			Width:       dst.Rect.Dx(),
			Height:      dst.Rect.Dy(),
			ContentType: ContentType,
			Data:        buf.Bytes(),
		}
		made = append(made, dst)
	}
	return out, nil
}

// scaledHeight is the height of b scaled to width, rounded to the nearest pixel and at least 1 (as
// imaging.Resize computes it), always from the original dimensions.
func scaledHeight(b image.Rectangle, width int) int {
	return max(1, int(math.Floor(float64(width)*float64(b.Dy())/float64(b.Dx())+0.5)))
}

// checkSizes validates the sizes Generate is asked for.
func checkSizes(sizes []Size) error {
	if len(sizes) == 0 {
		return errors.New("thumbnail: no sizes")
	}
	for _, s := range sizes {
		if s.Name == "" || s.Width <= 0 {
			return fmt.Errorf("thumbnail: invalid size %+v: it needs a name and a positive width", s)
		}
	}
	return nil
}

// decode reads the header of the image r holds, refuses unsupported formats and images over
// MaxPixels, and only then decodes the pixels.
func decode(r io.Reader) (image.Image, error) {
	rr := &recordingReader{r: r}
	// DecodeConfig consumes (and buffers) some bytes past the header; keep them for Decode.
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(rr, &head))
	switch {
	case rr.err != nil:
		return nil, fmt.Errorf("thumbnail: reading the image: %w", rr.err)
	case errors.Is(err, image.ErrFormat):
		return nil, ErrUnsupported
	case err != nil:
		return nil, fmt.Errorf("%w: reading the header: %w", ErrCorrupt, err)
	case !formats[format]:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, format)
	case cfg.Width <= 0 || cfg.Height <= 0:
		return nil, fmt.Errorf("%w: %s dimensions %dx%d", ErrCorrupt, format, cfg.Width, cfg.Height)
	case int64(cfg.Width)*int64(cfg.Height) > MaxPixels:
		return nil, fmt.Errorf("%w: %s of %dx%d is over %d pixels", ErrTooLarge, format, cfg.Width, cfg.Height, MaxPixels)
	}

	img, _, err := image.Decode(io.MultiReader(&head, rr))
	switch {
	case rr.err != nil:
		return nil, fmt.Errorf("thumbnail: reading the image: %w", rr.err)
	case err != nil:
		return nil, fmt.Errorf("%w: decoding the %s image: %w", ErrCorrupt, format, err)
	}
	canvas := image.Rect(0, 0, cfg.Width, cfg.Height)
	switch b := img.Bounds(); {
	case b == canvas:
		return img, nil
	case !b.Empty() && b.In(canvas):
		// A GIF whose first frame covers part of the logical screen: place it on a transparent
		// canvas of the screen's size, as a viewer shows it.
		dst := image.NewNRGBA(canvas)
		draw.Draw(dst, b, img, b.Min, draw.Src)
		return dst, nil
	default:
		return nil, fmt.Errorf("%w: %s image bounds %v disagree with its header (%dx%d)", ErrCorrupt, format, b, cfg.Width, cfg.Height)
	}
}

// recordingReader remembers the first error, other than io.EOF, its reader returned.
type recordingReader struct {
	r   io.Reader
	err error
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && err != io.EOF && rr.err == nil {
		rr.err = err
	}
	return n, err
}

// flattenOnWhite composites m over an opaque white background, in place.
func flattenOnWhite(m *image.NRGBA) {
	for y := 0; y < m.Rect.Dy(); y++ {
		row := m.Pix[y*m.Stride : y*m.Stride+4*m.Rect.Dx()]
		for i := 0; i < len(row); i += 4 {
			a := uint32(row[i+3])
			if a == 0xff {
				continue
			}
			for c := i; c < i+3; c++ {
				row[c] = uint8((uint32(row[c])*a + 0xff*(0xff-a) + 0x7f) / 0xff)
			}
			row[i+3] = 0xff
		}
	}
}
