package mediatype_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/mediamesh/mediamesh/services/media/mediatype"
)

// cat concatenates byte strings.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// b is a shorthand for a byte slice literal.
func b(v ...byte) []byte { return v }

// s is a shorthand for the bytes of a string.
func s(v string) []byte { return []byte(v) }

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// pad extends p with zero bytes to n bytes.
func pad(p []byte, n int) []byte { return append(p, make([]byte, n-len(p))...) }

// ftyp is an ISO base media "ftyp" box.
func ftyp(major string, compatible ...string) []byte {
	out := cat(be32(uint32(16+4*len(compatible))), s("ftyp"), s(major), be32(0x200))
	for _, c := range compatible {
		out = append(out, c...)
	}
	return out
}

// ebmlHeader is an EBML header as mkvmerge and ffmpeg write it, with the given DocType.
func ebmlHeader(docType string) []byte {
	body := cat(
		b(0x42, 0x86, 0x81, 0x01), // EBMLVersion 1
		b(0x42, 0xf7, 0x81, 0x01), // EBMLReadVersion 1
		b(0x42, 0xf2, 0x81, 0x04), // EBMLMaxIDLength 4
		b(0x42, 0xf3, 0x81, 0x08), // EBMLMaxSizeLength 8
		b(0x42, 0x82, 0x80|byte(len(docType))), s(docType),
		b(0x42, 0x87, 0x81, 0x04), // DocTypeVersion 4
		b(0x42, 0x85, 0x81, 0x02), // DocTypeReadVersion 2
	)
	return cat(b(0x1a, 0x45, 0xdf, 0xa3, 0x80|byte(len(body))), body,
		b(0x18, 0x53, 0x80, 0x67, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00)) // Segment
}

// oggPage is an Ogg page holding one packet shorter than 255 bytes.
func oggPage(bos bool, serial uint32, packet []byte) []byte {
	flags := byte(0)
	if bos {
		flags = 0x02
	}
	return cat(s("OggS"), b(0, flags), make([]byte, 8), le32(serial), le32(0), le32(0xdeadbeef),
		b(1, byte(len(packet))), packet)
}

var (
	vorbisID      = cat(s("\x01vorbis"), le32(0), b(2), le32(44100), le32(0), le32(128000), le32(0), b(0xb8, 0x01))
	opusID        = cat(s("OpusHead"), b(1, 2), b(0x38, 0x01), le32(48000), b(0, 0, 0))
	theoraID      = pad(s("\x80theora\x03\x02\x01"), 42)
	vorbisComment = cat(s("\x03vorbis"), le32(4), s("test"), le32(0), b(1))
	fisheadID     = pad(s("fishead\x00\x03\x00\x00\x00"), 64)
)

// id3 is an ID3v2.4 tag header for a tag of size bytes, followed by size bytes of padding.
func id3(size int) []byte {
	return cat(s("ID3"), b(4, 0, 0), b(byte(size>>21&0x7f), byte(size>>14&0x7f), byte(size>>7&0x7f), byte(size&0x7f)),
		make([]byte, size))
}

var (
	// mp3Frame is an MPEG-1 Layer III frame of 128 kbit/s at 44.1 kHz: 417 bytes.
	mp3Frame = pad(b(0xff, 0xfb, 0x90, 0x64), 417)
	// mp3Frame2 is an MPEG-2 Layer III frame of 64 kbit/s at 22.05 kHz: 208 bytes.
	mp3Frame2 = pad(b(0xff, 0xf3, 0x80, 0xc4), 208)
	// mp3Frame25 is an MPEG-2.5 Layer III frame of 32 kbit/s at 11.025 kHz: 208 bytes.
	mp3Frame25 = pad(b(0xff, 0xe3, 0x40, 0xc4), 208)
	// adtsFrame is an MPEG-4 AAC-LC ADTS frame, 44.1 kHz stereo, no CRC: 256 bytes.
	adtsFrame = pad(b(0xff, 0xf1, 0x50, 0x80, 0x20, 0x1f, 0xfc), 256)
	// adtsFrame2 is an MPEG-2 AAC-LC ADTS frame, 48 kHz mono, no CRC: 64 bytes.
	adtsFrame2 = pad(b(0xff, 0xf9, 0x4c, 0x40, 0x08, 0x1f, 0xfc), 64)
	// adtsFrameCRC is an MPEG-4 ADTS frame with a CRC: 100 bytes.
	adtsFrameCRC = pad(b(0xff, 0xf0, 0x50, 0x80, 0x0c, 0x9f, 0xfc, 0x12, 0x34), 100)
)

// encoded returns a tiny image encoded by the standard library.
func encoded(t testing.TB, format string) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 4, 3), color.Palette{color.White, color.Black})
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, img, nil)
	case "png":
		err = png.Encode(&buf, img)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sniffCases are real minimal headers of every allowed type and of types that are not allowed.
func sniffCases(t testing.TB) []struct {
	name string
	head []byte
	want string
} {
	return []struct {
		name string
		head []byte
		want string
	}{
		// Images.
		{"jpeg jfif", cat(b(0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10), s("JFIF\x00"), b(1, 1, 0, 0, 1, 0, 1, 0, 0)), "image/jpeg"},
		{"jpeg exif", cat(b(0xff, 0xd8, 0xff, 0xe1, 0x00, 0x16), s("Exif\x00\x00MM\x00*")), "image/jpeg"},
		{"jpeg encoded", encoded(t, "jpeg"), "image/jpeg"},
		{"png encoded", encoded(t, "png"), "image/png"},
		{"gif89a encoded", encoded(t, "gif"), "image/gif"},
		{"gif87a", cat(s("GIF87a"), b(1, 0, 1, 0, 0x80, 0, 0)), "image/gif"},
		{"webp lossless", cat(s("RIFF"), le32(26), s("WEBPVP8L"), le32(13), b(0x2f, 0, 0, 0, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00)), "image/webp"},
		{"webp lossy", cat(s("RIFF"), le32(36), s("WEBPVP8 "), le32(24), b(0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 1, 0, 1, 0)), "image/webp"},
		{"webp extended", cat(s("RIFF"), le32(40), s("WEBPVP8X"), le32(10), b(0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0)), "image/webp"},
		{"avif", ftyp("avif", "avif", "mif1", "miaf", "MA1B"), "image/avif"},
		{"avif sequence", ftyp("avis", "avis", "msf1", "iso8", "mif1", "miaf", "MA1B"), "image/avif"},
		{"avif by compatible brand", ftyp("mif1", "mif1", "avif", "miaf"), "image/avif"},
		// Video.
		{"mp4 ffmpeg", cat(ftyp("isom", "isom", "iso2", "avc1", "mp41"), be32(8), s("free")), "video/mp4"},
		{"mp4 mp42", ftyp("mp42", "mp42", "isom"), "video/mp4"},
		{"mp4 mp41", ftyp("mp41", "mp41"), "video/mp4"},
		{"mp4 iso2", ftyp("iso2", "iso2"), "video/mp4"},
		{"mp4 avc1", ftyp("avc1", "avc1", "isom"), "video/mp4"},
		{"mp4 dash", ftyp("dash", "iso6", "avc1", "mp41"), "video/mp4"},
		{"mp4 cmaf iso6", ftyp("iso6", "cmfc", "iso6"), "video/mp4"},
		{"mp4 m4v", ftyp("M4V ", "M4V ", "M4A ", "mp42", "isom"), "video/mp4"},
		{"mp4 3gp", ftyp("3gp4", "isom", "3gp4"), "video/mp4"},
		{"mp4 3gp5", ftyp("3gp5", "3gp5"), "video/mp4"},
		{"mp4 by compatible brand", ftyp("XAVC", "XAVC", "mp42", "iso2"), "video/mp4"},
		{"mp4 no compatible brands", ftyp("isom"), "video/mp4"},
		{"quicktime", cat(ftyp("qt  ", "qt  "), be32(8), s("wide")), "video/quicktime"},
		{"webm", ebmlHeader("webm"), "video/webm"},
		// Audio.
		{"m4a", ftyp("M4A ", "M4A ", "mp42", "isom"), "audio/mp4"},
		{"m4b", ftyp("M4B ", "M4B ", "mp42", "isom"), "audio/mp4"},
		{"m4p", ftyp("M4P ", "M4P ", "mp42", "isom"), "audio/mp4"},
		{"wav", cat(s("RIFF"), le32(36), s("WAVEfmt "), le32(16), b(1, 0, 1, 0), le32(44100), le32(88200), b(2, 0, 16, 0), s("data"), le32(0)), "audio/wav"},
		{"wav rf64", cat(s("RF64"), le32(0xffffffff), s("WAVEds64"), le32(28)), "audio/wav"},
		{"ogg vorbis", cat(oggPage(true, 1, vorbisID), oggPage(false, 1, vorbisComment)), "audio/ogg"},
		{"ogg opus", oggPage(true, 7, opusID), "audio/ogg"},
		{"ogg flac", oggPage(true, 3, cat(s("\x7fFLAC\x01\x00\x00\x01fLaC"), be32(0x80000022))), "audio/ogg"},
		{"ogg speex", oggPage(true, 4, pad(s("Speex   1.2"), 80)), "audio/ogg"},
		{"ogg skeleton then vorbis", cat(oggPage(true, 9, fisheadID), oggPage(true, 1, vorbisID), oggPage(false, 9, nil)), "audio/ogg"},
		{"flac", cat(s("fLaC"), b(0x80, 0, 0, 0x22), make([]byte, 34)), "audio/flac"},
		{"mp3 id3", cat(id3(10), mp3Frame), "audio/mpeg"},
		{"mp3 id3 v2.3 with a large tag", cat(s("ID3"), b(3, 0, 0, 0, 0, 0x10, 0)), "audio/mpeg"},
		{"mp3 id3 then garbage", cat(id3(4), s("junk")), "audio/mpeg"},
		{"mp3 mpeg-1 frames", cat(mp3Frame, mp3Frame), "audio/mpeg"},
		{"mp3 mpeg-1 one frame", mp3Frame[:100], "audio/mpeg"},
		{"mp3 mpeg-1 next header cut short", cat(mp3Frame, b(0xff, 0xfb)), "audio/mpeg"},
		{"mp3 mpeg-2 frames", cat(mp3Frame2, mp3Frame2, mp3Frame2), "audio/mpeg"},
		{"mp3 mpeg-2.5 frames", cat(mp3Frame25, mp3Frame25, mp3Frame25), "audio/mpeg"},
		{"mp3 free format", pad(b(0xff, 0xfb, 0x00, 0x44), 300), "audio/mpeg"},
		{"aac adts mpeg-4", cat(adtsFrame, adtsFrame, adtsFrame), "audio/aac"},
		{"aac adts mpeg-2", cat(adtsFrame2, adtsFrame2, adtsFrame2), "audio/aac"},
		{"aac adts with crc", cat(adtsFrameCRC, adtsFrameCRC), "audio/aac"},
		{"aac adts one header", adtsFrame[:7], "audio/aac"},
		{"aac behind id3", cat(id3(20), adtsFrame, adtsFrame), "audio/aac"},
		{"flac behind id3", cat(id3(20), s("fLaC"), b(0x80, 0, 0, 0x22)), "audio/flac"},

		// Not allowed.
		{"empty", nil, ""},
		{"one byte", b(0xff), ""},
		{"pdf", s("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), ""},
		{"html", s("<!DOCTYPE html>\n<html><head><title>x</title></head></html>"), ""},
		{"svg", s(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`), ""},
		{"xml svg", s(`<?xml version="1.0" encoding="UTF-8"?><svg xmlns="http://www.w3.org/2000/svg"/>`), ""},
		{"zip", cat(s("PK\x03\x04"), b(0x14, 0, 0, 0, 8, 0), make([]byte, 20)), ""},
		{"gzip", b(0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3), ""},
		{"text", s("hello, world\nthis is plain text\n"), ""},
		{"text mentioning ID3", s("ID3 tags are metadata"), ""},
		{"json", s(`{"kind":"image"}`), ""},
		{"elf", s("\x7fELF\x02\x01\x01\x00"), ""},
		{"bmp", cat(s("BM"), le32(70), le32(0), le32(54)), ""},
		{"tiff", s("II*\x00\x08\x00\x00\x00"), ""},
		{"truncated gif", s("GIF8"), ""},
		{"truncated png", s("\x89PNG"), ""},
		{"riff avi", cat(s("RIFF"), le32(1000), s("AVI LIST")), ""},
		{"riff webp with unknown chunk", cat(s("RIFF"), le32(1000), s("WEBPABCD")), ""},
		{"riff webp without chunk", cat(s("RIFF"), le32(4), s("WEBP")), ""},
		{"heic", ftyp("heic", "mif1", "heic"), ""},
		{"heif image", ftyp("mif1", "mif1", "heic", "miaf"), ""},
		{"heif sequence with iso brand", ftyp("msf1", "msf1", "iso8", "hevc"), ""},
		{"unknown iso brand", ftyp("crx ", "crx ", "CRX "), ""},
		{"jpeg 2000", cat(be32(12), s("jP  \r\n\x87\n"), ftyp("jp2 ", "jp2 ")), ""},
		{"ftyp box too short", cat(be32(8), s("ftypisom")), ""},
		{"matroska", ebmlHeader("matroska"), ""},
		{"ebml without doctype", cat(b(0x1a, 0x45, 0xdf, 0xa3, 0x84), b(0x42, 0x86, 0x81, 0x01)), ""},
		{"ebml doctype past head", cat(b(0x1a, 0x45, 0xdf, 0xa3, 0x87), b(0x42, 0x82, 0x84), s("we")), ""},
		{"ogg theora", cat(oggPage(true, 1, theoraID), oggPage(true, 2, vorbisID)), ""},
		{"ogg vorbis then theora", cat(oggPage(true, 2, vorbisID), oggPage(true, 1, theoraID)), ""},
		{"ogg skeleton only", oggPage(true, 9, fisheadID), ""},
		{"ogg not bos", oggPage(false, 1, vorbisID), ""},
		{"mp2 layer II", cat(pad(b(0xff, 0xfd, 0x90, 0x04), 417), b(0xff, 0xfd, 0x90, 0x04)), ""},
		{"mpeg layer I", b(0xff, 0xff, 0x90, 0x04), ""},
		{"mp3 reserved version", b(0xff, 0xeb, 0x90, 0x64), ""},
		{"mp3 bad bitrate", b(0xff, 0xfb, 0xf0, 0x64), ""},
		{"mp3 reserved sampling rate", b(0xff, 0xfb, 0x9c, 0x64), ""},
		{"mp3 reserved emphasis", b(0xff, 0xfb, 0x90, 0x66), ""},
		{"mp3 false sync", cat(mp3Frame, s("not a frame")), ""},
		{"mp3 sampling rate changes", cat(mp3Frame, b(0xff, 0xfb, 0x94, 0x64)), ""},
		{"mp3 header cut short", b(0xff, 0xfb, 0x90), ""},
		{"adts reserved frequency", b(0xff, 0xf1, 0x74, 0x80, 0x20, 0x1f, 0xfc), ""},
		{"adts frame shorter than header", b(0xff, 0xf1, 0x50, 0x80, 0x00, 0x1f, 0xfc), ""},
		{"adts false sync", cat(adtsFrame, s("garbage")), ""},
		{"adts header cut short", b(0xff, 0xf1, 0x50, 0x80), ""},
		{"id3 bad version", cat(s("ID3"), b(9, 0, 0, 0, 0, 0, 0)), ""},
		{"id3 bad size", cat(s("ID3"), b(4, 0, 0, 0x80, 0, 0, 0)), ""},
		{"id3 cut short", s("ID3\x04\x00"), ""},
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range sniffCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			ct, kind, ok := mediatype.Sniff(tc.head)
			if ct != tc.want || ok != (tc.want != "") {
				t.Fatalf("Sniff(% x) = %q, %q, %v; want %q", tc.head[:min(len(tc.head), 32)], ct, kind, ok, tc.want)
			}
			if !ok {
				if kind != "" {
					t.Fatalf("kind = %q for a type that is not allowed", kind)
				}
				return
			}
			if want, _ := mediatype.Allowed(ct); kind != want {
				t.Fatalf("kind = %q, Allowed(%q) says %q", kind, ct, want)
			}
		})
	}
}

func TestSniffLooksAtSniffLenBytesOnly(t *testing.T) {
	// An ID3 tag that ends past SniffLen: what follows it cannot be seen, so the file is audio/mpeg
	// even though an ADTS stream follows.
	long := cat(id3(mediatype.SniffLen), adtsFrame, adtsFrame)
	if ct, _, _ := mediatype.Sniff(long); ct != "audio/mpeg" {
		t.Fatalf("Sniff(long) = %q, want audio/mpeg", ct)
	}
	// An ADTS frame of 600 bytes followed by garbage: the garbage is past SniffLen, so the frame
	// stands alone; with a shorter frame the same garbage shows and refutes it.
	frames := cat(pad(b(0xff, 0xf1, 0x50, 0x80, 0x4b, 0x1f, 0xfc), 600), s("garbage"))
	if ct, _, _ := mediatype.Sniff(frames); ct != "audio/aac" {
		t.Fatalf("Sniff(600-byte frame, garbage) = %q, want audio/aac", ct)
	}
	frames = cat(pad(b(0xff, 0xf1, 0x50, 0x80, 0x3f, 0x1f, 0xfc), 504), s("garbage"))
	if ct, _, _ := mediatype.Sniff(frames); ct != "" {
		t.Fatalf("Sniff(504-byte frame, garbage) = %q, want none", ct)
	}
	for _, tc := range sniffCases(t) {
		long := cat(tc.head, bytes.Repeat(s("x"), 2*mediatype.SniffLen))
		got, _, _ := mediatype.Sniff(long)
		want, _, _ := mediatype.Sniff(long[:mediatype.SniffLen])
		if got != want {
			t.Errorf("%s: Sniff of a long file = %q, of its first SniffLen bytes = %q", tc.name, got, want)
		}
	}
}

func TestAllowed(t *testing.T) {
	for ct, want := range map[string]mediatype.Kind{
		"image/jpeg": mediatype.KindImage, "image/png": mediatype.KindImage, "image/webp": mediatype.KindImage,
		"image/gif": mediatype.KindImage, "image/avif": mediatype.KindImage,
		"video/mp4": mediatype.KindVideo, "video/webm": mediatype.KindVideo, "video/quicktime": mediatype.KindVideo,
		"audio/mpeg": mediatype.KindAudio, "audio/mp4": mediatype.KindAudio, "audio/aac": mediatype.KindAudio,
		"audio/ogg": mediatype.KindAudio, "audio/wav": mediatype.KindAudio, "audio/flac": mediatype.KindAudio,
	} {
		if kind, ok := mediatype.Allowed(ct); !ok || kind != want {
			t.Errorf("Allowed(%q) = %q, %v; want %q, true", ct, kind, ok, want)
		}
	}
	for _, ct := range []string{
		"", "image/svg+xml", "application/pdf", "text/html", "application/zip", "image/heic", "video/x-matroska",
		"video/ogg", "audio/webm", "image/bmp", "IMAGE/JPEG", "image/jpeg; charset=binary", " image/jpeg", "image/jpg",
		"audio/x-wav", "application/octet-stream",
	} {
		if kind, ok := mediatype.Allowed(ct); ok || kind != "" {
			t.Errorf("Allowed(%q) = %q, %v; want not allowed", ct, kind, ok)
		}
	}
}

func FuzzSniff(f *testing.F) {
	for _, tc := range sniffCases(f) {
		f.Add(tc.head)
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		ct, kind, ok := mediatype.Sniff(head)
		if !ok {
			if ct != "" || kind != "" {
				t.Fatalf("Sniff = %q, %q, false: want empty results", ct, kind)
			}
			return
		}
		want, allowed := mediatype.Allowed(ct)
		if !allowed || kind != want {
			t.Fatalf("Sniff = %q, %q: Allowed says %q, %v", ct, kind, want, allowed)
		}
		if len(head) > mediatype.SniffLen {
			if ct2, _, _ := mediatype.Sniff(head[:mediatype.SniffLen]); ct2 != ct {
				t.Fatalf("Sniff(head) = %q, Sniff(head[:SniffLen]) = %q", ct, ct2)
			}
		}
	})
}
