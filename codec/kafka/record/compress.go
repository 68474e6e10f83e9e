package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// DefaultMaxDecompressedBytes bounds what one batch may decompress to.
const DefaultMaxDecompressedBytes = 64 << 20

// xerialMagic opens snappy data framed the way the Java client
// (snappy-java's SnappyOutputStream) writes it: the magic, int32 version,
// int32 minimum compatible version, then blocks of int32 length + raw
// snappy block. librdkafka and franz-go write one raw snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

// Decompressor decompresses batches, reusing its decoders and buffer. It is
// not safe for concurrent use: keep one per goroutine (event loop).
type Decompressor struct {
	// MaxBytes bounds one batch's decompressed records (zip bombs); 0 means
	// DefaultMaxDecompressedBytes.
	MaxBytes int

	gz   *gzip.Reader
	lz   *lz4.Reader
	zstd *zstd.Decoder
	src  bytes.Reader
}

func (d *Decompressor) max() int {
	if d.MaxBytes > 0 {
		return d.MaxBytes
	}
	return DefaultMaxDecompressedBytes
}

// Records returns b's records section uncompressed: the stored bytes when
// the batch is not compressed, else decompressed and appended to dst (pass
// a reused buffer; the result aliases it).
func (d *Decompressor) Records(b *Batch, dst []byte) ([]byte, error) {
	src := b.Records()
	c := b.Compression()
	if c == None {
		return src, nil
	}
	start := len(dst)
	var err error
	switch c {
	case Gzip:
		dst, err = d.gzip(dst, src)
	case Snappy:
		dst, err = d.snappy(dst, src)
	case LZ4:
		dst, err = d.lz4(dst, src)
	case Zstd:
		dst, err = d.zstdDecode(dst, src)
	default:
		return nil, fail(ErrCompression, "codec "+strconv.Itoa(int(c)))
	}
	if err != nil {
		return nil, err
	}
	return dst[start:], nil
}

// readAll appends r's output to dst, failing past max bytes.
func (d *Decompressor) readAll(dst []byte, r io.Reader, codec Compression) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > d.max() {
			return nil, fail(ErrTooLarge, codec.String()+" batch over "+strconv.Itoa(d.max())+" bytes")
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, fail(ErrCorrupt, codec.String()+": "+err.Error())
		}
	}
}

func (d *Decompressor) gzip(dst, src []byte) ([]byte, error) {
	d.src.Reset(src)
	var err error
	if d.gz == nil {
		d.gz, err = gzip.NewReader(&d.src)
	} else {
		err = d.gz.Reset(&d.src)
	}
	if err != nil {
		return nil, fail(ErrCorrupt, "gzip: "+err.Error())
	}
	return d.readAll(dst, d.gz, Gzip)
}

func (d *Decompressor) lz4(dst, src []byte) ([]byte, error) {
	d.src.Reset(src)
	if d.lz == nil {
		d.lz = lz4.NewReader(&d.src)
	} else {
		d.lz.Reset(&d.src)
	}
	return d.readAll(dst, d.lz, LZ4)
}

func (d *Decompressor) zstdDecode(dst, src []byte) ([]byte, error) {
	if d.zstd == nil {
		var err error
		d.zstd, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(d.max())))
		if err != nil {
			return nil, fail(ErrCompression, "zstd: "+err.Error())
		}
	}
	out, err := d.zstd.DecodeAll(src, dst)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return nil, fail(ErrTooLarge, "zstd batch over "+strconv.Itoa(d.max())+" bytes")
	}
	if err != nil {
		return nil, fail(ErrCorrupt, "zstd: "+err.Error())
	}
	if len(out)-len(dst) > d.max() {
		return nil, fail(ErrTooLarge, "zstd batch over "+strconv.Itoa(d.max())+" bytes")
	}
	return out, nil
}

func (d *Decompressor) snappy(dst, src []byte) ([]byte, error) {
	start := len(dst)
	if !bytes.HasPrefix(src, xerialMagic) {
		return d.snappyBlock(dst, src, start)
	}
	if len(src) < xerialHeaderSize {
		return nil, fail(ErrCorrupt, "snappy: short xerial header")
	}
	for src = src[xerialHeaderSize:]; len(src) > 0; {
		if len(src) < 4 {
			return nil, fail(ErrCorrupt, "snappy: short xerial block length")
		}
		n := binary.BigEndian.Uint32(src)
		if uint64(n) > uint64(len(src)-4) {
			return nil, fail(ErrCorrupt, "snappy: xerial block of "+strconv.FormatUint(uint64(n), 10)+
				" bytes, have "+strconv.Itoa(len(src)-4))
		}
		var err error
		if dst, err = d.snappyBlock(dst, src[4:4+n], start); err != nil {
			return nil, err
		}
		src = src[4+n:]
	}
	return dst, nil
}

// snappyBlock appends one decoded raw snappy block to dst; the batch's
// output started at dst[start].
func (d *Decompressor) snappyBlock(dst, src []byte, start int) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, fail(ErrCorrupt, "snappy: "+err.Error())
	}
	if n > d.max()-(len(dst)-start) {
		return nil, fail(ErrTooLarge, "snappy batch over "+strconv.Itoa(d.max())+" bytes")
	}
	at := len(dst)
	dst = append(dst, make([]byte, n)...)
	if _, err := s2.Decode(dst[at:], src); err != nil {
		return nil, fail(ErrCorrupt, "snappy: "+err.Error())
	}
	return dst, nil
}

// Compressor compresses records sections for AppendBatch, reusing its
// encoders. Not safe for concurrent use.
type Compressor struct {
	gz   *gzip.Writer
	lz   *lz4.Writer
	zstd *zstd.Encoder
	buf  bytes.Buffer
}

// Compress appends src compressed with c to dst. Snappy output uses the
// xerial framing (what the Java client writes; every client reads it).
func (z *Compressor) Compress(dst, src []byte, c Compression) ([]byte, error) {
	switch c {
	case None:
		return append(dst, src...), nil
	case Snappy:
		enc := s2.EncodeSnappy(nil, src)
		dst = append(dst, xerialMagic...)
		dst = binary.BigEndian.AppendUint32(dst, 1) // version
		dst = binary.BigEndian.AppendUint32(dst, 1) // minimum compatible version
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(enc)))
		return append(dst, enc...), nil
	case Zstd:
		if z.zstd == nil {
			var err error
			if z.zstd, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1)); err != nil {
				return nil, fail(ErrCompression, "zstd: "+err.Error())
			}
		}
		return z.zstd.EncodeAll(src, dst), nil
	}
	z.buf.Reset()
	var w io.WriteCloser
	switch c {
	case Gzip:
		if z.gz == nil {
			z.gz = gzip.NewWriter(&z.buf)
		} else {
			z.gz.Reset(&z.buf)
		}
		w = z.gz
	case LZ4:
		if z.lz == nil {
			z.lz = lz4.NewWriter(&z.buf)
		} else {
			z.lz.Reset(&z.buf)
		}
		w = z.lz
	default:
		return nil, fail(ErrCompression, "codec "+strconv.Itoa(int(c)))
	}
	if _, err := w.Write(src); err != nil {
		return nil, fail(ErrCompression, c.String()+": "+err.Error())
	}
	if err := w.Close(); err != nil {
		return nil, fail(ErrCompression, c.String()+": "+err.Error())
	}
	return append(dst, z.buf.Bytes()...), nil
}
