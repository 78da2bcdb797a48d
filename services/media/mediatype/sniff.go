package mediatype

import (
	"bytes"
	"encoding/binary"
)

// SniffLen is how many leading bytes of a file Sniff looks at; read this many (or the whole file,
// when it is shorter) and pass them to Sniff.
const SniffLen = 512

// Sniff returns the media type and kind of the content whose first bytes are head, or ok=false when
// it is none of the allowed types (see Allowed). Only head[:SniffLen] is looked at, so the answer for
// a whole file is the answer for its first SniffLen bytes. The signatures it recognises:
//
//   - image/jpeg: FF D8 FF.
//   - image/png: the 8-byte PNG signature.
//   - image/gif: "GIF87a" or "GIF89a".
//   - image/webp: a RIFF "WEBP" form whose first chunk is "VP8 ", "VP8L" or "VP8X".
//   - audio/wav: a RIFF (or RF64) "WAVE" form.
//   - ISO base media files (an "ftyp" box at offset 4), by brand; see the table below.
//   - video/webm: an EBML header whose DocType is "webm" (other Matroska files are not allowed).
//   - audio/ogg: an Ogg stream whose first pages start Vorbis, Opus, FLAC or Speex streams and no
//     video stream (Theora, Dirac, Daala, OGM video); Ogg without a known audio stream is not allowed.
//   - audio/flac: "fLaC".
//   - audio/aac: an ADTS frame header (12-bit sync FFF, layer 00), e.g. FF F1 or FF F9.
//   - audio/mpeg: an ID3v2 tag, or an MPEG-1, MPEG-2 or MPEG-2.5 Layer III frame header (11-bit
//     sync, layer 01). An ID3v2 tag is looked behind when it ends inside head: a FLAC stream or an
//     ADTS frame there makes the answer audio/flac or audio/aac instead.
//
// A bare frame sync (MPEG audio or ADTS) is only 11 or 12 bits, so its header fields must be
// valid and, when the frame ends inside head, the next frame must start where it ends.
//
// ISO base media brands (the major brand decides; when it is none of these, the compatible brands
// are looked at in order and the first one in the table decides):
//
//	avif avis                                         image/avif
//	"qt  "                                            video/quicktime
//	"M4A " "M4B " "M4P "                              audio/mp4
//	isom iso2..iso9 mp41 mp42 avc1 dash "M4V " M4VH
//	M4VP 3gp4..3gp9 (any 3gp*)                        video/mp4
//
// A file whose major brand is a HEIF image brand (mif1, msf1, miaf, heic, heix, heim, heis, hevc,
// hevx, hevm, hevs) is an AVIF only when avif or avis is among its compatible brands; otherwise
// (HEIC and the like) it is not allowed, whatever other brands it lists. An audio-only MP4 that
// only carries generic brands (isom, mp42) is reported as video/mp4: brands cannot tell it apart.
//
// Everything else (PDF, HTML, SVG, XML, ZIP, plain text, other RIFF or ISO brands, Matroska,
// QuickTime files without an "ftyp" box, ...) gives ok=false.
func Sniff(head []byte) (contentType string, kind Kind, ok bool) {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	ct := sniff(head)
	if ct == "" {
		return "", "", false
	}
	k, ok := allowed[ct]
	if !ok {
		return "", "", false
	}
	return ct, k, true
}

var (
	sigPNG   = []byte("\x89PNG\r\n\x1a\n")
	sigGIF87 = []byte("GIF87a")
	sigGIF89 = []byte("GIF89a")
	sigEBML  = []byte{0x1a, 0x45, 0xdf, 0xa3}
)

// sniff returns the media type of head or "".
func sniff(head []byte) string {
	switch {
	case len(head) >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff:
		return ImageJPEG
	case bytes.HasPrefix(head, sigPNG):
		return ImagePNG
	case bytes.HasPrefix(head, sigGIF87), bytes.HasPrefix(head, sigGIF89):
		return ImageGIF
	case len(head) >= 12 && (string(head[:4]) == "RIFF" || string(head[:4]) == "RF64"):
		return sniffRIFF(head)
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return sniffISOBMFF(head)
	case bytes.HasPrefix(head, sigEBML):
		return sniffEBML(head)
	case len(head) >= 4 && string(head[:4]) == "OggS":
		return sniffOgg(head)
	case len(head) >= 4 && string(head[:4]) == "fLaC":
		return AudioFLAC
	case len(head) >= 3 && string(head[:3]) == "ID3":
		return sniffID3(head)
	case len(head) >= 2 && head[0] == 0xff:
		return sniffFrameSync(head)
	}
	return ""
}

// sniffRIFF tells WebP from WAV among RIFF (and RF64) forms.
func sniffRIFF(head []byte) string {
	switch form := string(head[8:12]); {
	case form == "WAVE":
		return AudioWAV
	case form == "WEBP" && string(head[:4]) == "RIFF" && len(head) >= 16:
		switch string(head[12:16]) {
		case "VP8 ", "VP8L", "VP8X":
			return ImageWebP
		}
	}
	return ""
}

// isoBrands maps ISO base media file brands to media types (see Sniff).
var isoBrands = map[string]string{
	"avif": ImageAVIF, "avis": ImageAVIF,
	"qt  ": VideoQuickTime,
	"M4A ": AudioMP4, "M4B ": AudioMP4, "M4P ": AudioMP4,
	"isom": VideoMP4, "iso2": VideoMP4, "iso3": VideoMP4, "iso4": VideoMP4, "iso5": VideoMP4,
	"iso6": VideoMP4, "iso7": VideoMP4, "iso8": VideoMP4, "iso9": VideoMP4,
	"mp41": VideoMP4, "mp42": VideoMP4, "avc1": VideoMP4, "dash": VideoMP4,
	"M4V ": VideoMP4, "M4VH": VideoMP4, "M4VP": VideoMP4,
}

// heifBrands are the major brands of HEIF image files (and image sequences), which are allowed only
// as AVIF.
var heifBrands = map[string]bool{
	"mif1": true, "msf1": true, "miaf": true,
	"heic": true, "heix": true, "heim": true, "heis": true,
	"hevc": true, "hevx": true, "hevm": true, "hevs": true,
}

// isoBrand returns the media type of one brand, or "".
func isoBrand(b string) string {
	if ct, ok := isoBrands[b]; ok {
		return ct
	}
	if len(b) == 4 && b[:3] == "3gp" {
		return VideoMP4
	}
	return ""
}

// sniffISOBMFF reads the brands of the leading ftyp box.
func sniffISOBMFF(head []byte) string {
	size := binary.BigEndian.Uint32(head[:4])
	if size < 16 {
		return "" // a box of at least size, type, major brand and minor version.
	}
	major := string(head[8:12])
	if ct := isoBrand(major); ct != "" {
		return ct
	}
	end := min(uint64(size), uint64(len(head)))
	heif := heifBrands[major]
	for i := uint64(16); i+4 <= end; i += 4 {
		ct := isoBrand(string(head[i : i+4]))
		if ct == "" || heif && ct != ImageAVIF {
			continue
		}
		return ct
	}
	return ""
}

// sniffEBML accepts an EBML (Matroska family) header whose DocType is "webm".
func sniffEBML(head []byte) string {
	const (
		idEBML    = 0x1a45dfa3
		idDocType = 0x4282
	)
	id, n := ebmlID(head)
	if id != idEBML {
		return ""
	}
	size, m := ebmlSize(head[n:])
	if m == 0 {
		return ""
	}
	body := head[n+m:]
	if size >= 0 && size < int64(len(body)) {
		body = body[:size]
	}
	for len(body) > 0 {
		id, n := ebmlID(body)
		if n == 0 {
			return ""
		}
		size, m := ebmlSize(body[n:])
		if m == 0 || size < 0 {
			return ""
		}
		body = body[n+m:]
		if size > int64(len(body)) {
			return "" // the element runs past head.
		}
		if id == idDocType {
			// A string element; it may be padded with zero bytes.
			if string(bytes.TrimRight(body[:size], "\x00")) == "webm" {
				return VideoWebM
			}
			return ""
		}
		body = body[size:]
	}
	return ""
}

// ebmlID reads an EBML element ID (1 to 4 bytes, length marker kept) and returns it with its length,
// or n=0 when b does not start with one.
func ebmlID(b []byte) (id uint32, n int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 4 || len(b) < n {
		return 0, 0
	}
	for _, c := range b[:n] {
		id = id<<8 | uint32(c)
	}
	return id, n
}

// ebmlSize reads an EBML data size (a 1- to 8-byte variable-length integer) and returns it with its
// length; size is -1 for the reserved "unknown size", n is 0 when b does not start with one.
func ebmlSize(b []byte) (size int64, n int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	n = 1
	mask := byte(0x80)
	for ; b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if len(b) < n {
		return 0, 0
	}
	v := uint64(b[0] & (mask - 1))
	allOnes := v == uint64(mask-1)
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
		allOnes = allOnes && c == 0xff
	}
	if allOnes {
		return -1, n
	}
	return int64(v), n // at most 56 bits: no overflow.
}

// Ogg codecs, by the start of their identification header (the first packet of a stream).
var (
	oggAudio = [][]byte{
		[]byte("\x01vorbis"),
		[]byte("OpusHead"),
		[]byte("\x7fFLAC"),
		[]byte("Speex   "),
	}
	oggVideo = [][]byte{
		[]byte("\x80theora"),
		[]byte("BBCD\x00"),      // Dirac
		[]byte("\x80daala"),     // Daala
		[]byte("\x01video\x00"), // OGM video
	}
)

// sniffOgg walks the beginning-of-stream pages at the start of an Ogg file (every logical stream's
// first page comes before any other page) and accepts the file when it carries a known audio codec
// and no video.
func sniffOgg(head []byte) string {
	const (
		pageHeaderLen = 27
		flagBOS       = 0x02
	)
	audio := false
	for len(head) >= pageHeaderLen && string(head[:4]) == "OggS" {
		if head[4] != 0 || head[5]&flagBOS == 0 {
			break // version 0 only; the first non-BOS page ends the stream headers.
		}
		segments := int(head[26])
		if len(head) < pageHeaderLen+segments {
			break
		}
		bodyLen := 0
		for _, l := range head[pageHeaderLen : pageHeaderLen+segments] {
			bodyLen += int(l)
		}
		body := head[pageHeaderLen+segments:]
		for _, sig := range oggVideo {
			if bytes.HasPrefix(body, sig) {
				return ""
			}
		}
		for _, sig := range oggAudio {
			if bytes.HasPrefix(body, sig) {
				audio = true
			}
		}
		if len(body) < bodyLen {
			break
		}
		head = body[bodyLen:]
	}
	if audio {
		return AudioOgg
	}
	return ""
}

// sniffID3 checks an ID3v2 tag header and looks behind the tag when it ends inside head.
func sniffID3(head []byte) string {
	const headerLen = 10
	if len(head) < headerLen {
		return ""
	}
	if head[3] < 2 || head[3] > 4 || head[4] == 0xff {
		return "" // versions 2.2 to 2.4.
	}
	var size int
	for _, c := range head[6:10] {
		if c&0x80 != 0 {
			return "" // a syncsafe integer.
		}
		size = size<<7 | int(c)
	}
	end := headerLen + size
	if head[5]&0x10 != 0 {
		end += headerLen // a footer.
	}
	if end < len(head) {
		switch behind := head[end:]; {
		case len(behind) >= 4 && string(behind[:4]) == "fLaC":
			return AudioFLAC
		case len(behind) >= 2 && behind[0] == 0xff && sniffFrameSync(behind) == AudioAAC:
			return AudioAAC
		}
	}
	return AudioMPEG
}

// sniffFrameSync recognises an ADTS (AAC) or MPEG audio Layer III frame header at the start of
// head. When that frame ends inside head, the next frame must start right after it with the same
// fixed header fields (as far as head holds them).
func sniffFrameSync(head []byte) string {
	if n, ok := parseADTS(head); ok && nextFrame(head, n, adtsFixed[:], parseADTSOK) {
		return AudioAAC
	}
	if n, ok := parseMP3(head); ok && nextFrame(head, n, mp3Fixed[:], parseMP3OK) {
		return AudioMPEG
	}
	return ""
}

// The header bits that stay the same from frame to frame, by byte. ADTS: sync, ID, layer,
// protection, profile, sampling frequency, channel configuration, originality and home (not the
// private bit). MPEG audio: sync, version, layer and sampling rate (bit rate, padding, protection
// and mode may change).
var (
	adtsFixed = [4]byte{0xff, 0xff, 0xfd, 0xf0}
	mp3Fixed  = [4]byte{0xff, 0xfe, 0x0c, 0x00}
)

// nextFrame reports whether the frame after the first one (of length n, 0 when unknown) is
// consistent with it: there is nothing to check when it starts beyond head; otherwise the fixed
// bits it shares with head must match and, when head holds its whole header, valid must accept it.
func nextFrame(head []byte, n int, fixed []byte, valid func([]byte) bool) bool {
	if n <= 0 || n >= len(head) {
		return true
	}
	next := head[n:]
	for i := 0; i < len(fixed) && i < len(next); i++ {
		if next[i]&fixed[i] != head[i]&fixed[i] {
			return false
		}
	}
	return valid(next)
}

// adtsHeaderLen is the length of an ADTS header without CRC.
const adtsHeaderLen = 7

// parseADTS reads an ADTS frame header: 12-bit sync, either ID, layer 00, a defined sampling
// frequency index and a frame length that holds at least the header. It returns the frame length.
func parseADTS(b []byte) (length int, ok bool) {
	if len(b) < adtsHeaderLen || b[0] != 0xff || b[1]&0xf6 != 0xf0 {
		return 0, false
	}
	if b[2]>>2&0x0f > 12 {
		return 0, false // 13 and 14 are reserved, 15 (explicit frequency) is forbidden in ADTS.
	}
	headerLen := adtsHeaderLen
	if b[1]&0x01 == 0 {
		headerLen += 2 // protection_absent=0: a CRC follows.
	}
	length = int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5])>>5
	if length < headerLen {
		return 0, false
	}
	return length, true
}

// parseADTSOK accepts a valid ADTS header, or the start of one that head cuts short.
func parseADTSOK(b []byte) bool {
	_, ok := parseADTS(b)
	return ok || len(b) < adtsHeaderLen
}

// mp3HeaderLen is the length of an MPEG audio frame header without CRC.
const mp3HeaderLen = 4

var (
	// Layer III bit rates in kbit/s by bitrate index (0 is free format, 15 is invalid).
	mp3BitratesV1 = [15]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	mp3BitratesV2 = [15]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
	// Sampling rates in Hz by version (MPEG-2.5, reserved, MPEG-2, MPEG-1) and index (3 is reserved).
	mp3Rates = [4][3]int{{11025, 12000, 8000}, {}, {22050, 24000, 16000}, {44100, 48000, 32000}}
)

// parseMP3 reads an MPEG-1/2/2.5 Layer III frame header: 11-bit sync, a defined version, layer 01,
// a bitrate index other than 15, a defined sampling rate and emphasis. It returns the frame length,
// 0 for free-format streams (whose frame length is not in the header).
func parseMP3(b []byte) (length int, ok bool) {
	if len(b) < mp3HeaderLen || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return 0, false
	}
	version := b[1] >> 3 & 0x03
	if version == 1 || b[1]>>1&0x03 != 1 {
		return 0, false // reserved version, or not Layer III.
	}
	bitrateIndex, rateIndex, padding := b[2]>>4, b[2]>>2&0x03, int(b[2]>>1&0x01)
	if bitrateIndex == 15 || rateIndex == 3 || b[3]&0x03 == 2 {
		return 0, false // invalid bit rate, reserved sampling rate or reserved emphasis.
	}
	if bitrateIndex == 0 {
		return 0, true
	}
	rate := mp3Rates[version][rateIndex]
	if version == 3 {
		return 144*1000*mp3BitratesV1[bitrateIndex]/rate + padding, true
	}
	return 72*1000*mp3BitratesV2[bitrateIndex]/rate + padding, true
}

// parseMP3OK accepts a valid Layer III header, or the start of one that head cuts short.
func parseMP3OK(b []byte) bool {
	_, ok := parseMP3(b)
	return ok || len(b) < mp3HeaderLen
}
