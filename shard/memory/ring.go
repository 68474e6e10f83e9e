package memory

// ring is a FIFO of index entries: appends at the back, drops at the front,
// in one power-of-two array reused in place. (A slice resliced from the
// front would reallocate, and fault in fresh pages, every few thousand
// records.) It grows by doubling when full and halves when a quarter full.
type ring struct {
	buf  []entry // len is zero or a power of two
	head int
	n    int
}

const minRing = 64

func (r *ring) len() int { return r.n }

// at returns the i-th entry from the front. REQUIRES: 0 <= i < r.n.
func (r *ring) at(i int) *entry { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

func (r *ring) push(e entry) {
	if r.n == len(r.buf) {
		r.resize(max(minRing, 2*len(r.buf)))
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = e
	r.n++
}

// pop drops the front entry. REQUIRES: r.n > 0.
func (r *ring) pop() {
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	if len(r.buf) > minRing && r.n < len(r.buf)/4 {
		r.resize(len(r.buf) / 2)
	}
}

func (r *ring) resize(size int) {
	buf := make([]entry, size)
	for i := 0; i < r.n; i++ {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
}
