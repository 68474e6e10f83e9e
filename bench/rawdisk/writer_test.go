package rawdisk

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestAppendModes checks that every mode writes every byte exactly once.
func TestAppendModes(t *testing.T) {
	for _, mode := range []string{"serial", "group", "write"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			w, err := NewWriter(dir, "f")
			if err != nil {
				t.Fatal(err)
			}
			const writers, n = 6, 6
			var wg sync.WaitGroup
			for g := 0; g < writers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := bytes.Repeat([]byte{byte('a' + g)}, 100)
					for i := 0; i < n; i++ {
						var err error
						switch mode {
						case "serial":
							err = w.AppendSerial(p)
						case "group":
							err = w.Append(p)
						default:
							err = w.Write(p)
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "f"))
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != writers*n*100 {
				t.Fatalf("file has %d bytes; want %d", len(data), writers*n*100)
			}
			for g := 0; g < writers; g++ {
				if c := bytes.Count(data, []byte{byte('a' + g)}); c != n*100 {
					t.Fatalf("writer %d: %d bytes in file; want %d", g, c, n*100)
				}
			}
			for i := 0; i < len(data); i += 100 { // writes never interleave
				if !bytes.Equal(data[i:i+100], bytes.Repeat(data[i:i+1], 100)) {
					t.Fatalf("torn write at %d", i)
				}
			}
		})
	}
}
