// Package mediatype identifies uploaded media by its content: the first bytes of a file decide its
// media type, never its name or the type a client declares. The types it knows are exactly the
// UploadContentType allow-list of specs/openapi/media.yaml, each with its AssetKind.
package mediatype

// Kind is the broad kind of a media type: the AssetKind of specs/openapi/media.yaml.
type Kind string

// The kinds of media.
const (
	// KindImage is a still (or animated) picture.
	KindImage Kind = "image"
	// KindVideo is moving pictures, possibly with sound.
	KindVideo Kind = "video"
	// KindAudio is sound only.
	KindAudio Kind = "audio"
)

// The media types of the allow-list, as the spec spells them.
const (
	ImageJPEG      = "image/jpeg"
	ImagePNG       = "image/png"
	ImageWebP      = "image/webp"
	ImageGIF       = "image/gif"
	ImageAVIF      = "image/avif"
	VideoMP4       = "video/mp4"
	VideoWebM      = "video/webm"
	VideoQuickTime = "video/quicktime"
	AudioMPEG      = "audio/mpeg"
	AudioMP4       = "audio/mp4"
	AudioAAC       = "audio/aac"
	AudioOgg       = "audio/ogg"
	AudioWAV       = "audio/wav"
	AudioFLAC      = "audio/flac"
)

// allowed is the spec's UploadContentType enum with the kind of each type.
var allowed = map[string]Kind{
	ImageJPEG:      KindImage,
	ImagePNG:       KindImage,
	ImageWebP:      KindImage,
	ImageGIF:       KindImage,
	ImageAVIF:      KindImage,
	VideoMP4:       KindVideo,
	VideoWebM:      KindVideo,
	VideoQuickTime: KindVideo,
	AudioMPEG:      KindAudio,
	AudioMP4:       KindAudio,
	AudioAAC:       KindAudio,
	AudioOgg:       KindAudio,
	AudioWAV:       KindAudio,
	AudioFLAC:      KindAudio,
}

// Allowed reports whether contentType is one of the media types that can be uploaded (the spec's
// UploadContentType) and returns its kind. It compares the exact, canonical spelling the spec uses
// (lower case, no parameters): "image/jpeg" is allowed, "Image/JPEG" and "image/jpeg; q=1" are not.
func Allowed(contentType string) (Kind, bool) {
	k, ok := allowed[contentType]
	return k, ok
}
