package file

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/athanor-dev/athanor/state"
)

// The records of a stage live in one append-only log, records.log. It is a
// sequence of frames:
//
//	magic (1 byte, 0xA7) | kind (1 byte) | length (uint32 LE) | CRC-32C (uint32 LE) | payload
//
// where the CRC covers kind, length and payload. The first frame is a
// header (kind 'H', payload {"layoutVersion":N}); after it, a put (kind
// 'P', payload: the key's length as uint16 LE, the key, the record's JSON)
// replaces the record of its key and a deletion (kind 'D', payload: the
// key) removes it. Replaying the log from the start gives the stage.
//
// Writes are group-committed: the Puts and Deletes of all goroutines of a
// process that arrive while the log is being synced are appended by one of
// them, the group's leader, in one write and covered by one fdatasync, after
// which all of them return. The leader also fences the group: it checks the
// stage lock of each writer once, right before the write, and refuses the
// ops of a writer whose lock was broken (a forced unlock). Across
// processes, appending is serialised by an exclusive flock on the log file
// held from before the write until the sync has returned. No write returns
// before the sync covering its frame has succeeded, and every frame before
// an acknowledged one was written before it, so the acknowledged writes
// form a durable prefix of the log.
//
// A frame that is incomplete or fails its check ends the log, as in the
// write-ahead logs of PostgreSQL and SQLite: it is the torn tail of a write
// that never returned (its writer was killed, or the machine lost power
// before the sync), so readers ignore it and the next writer, holding the
// flock, truncates it before appending. Readers take no lock: they apply
// the complete, valid frames past the point they have read up to, so they
// never see a torn record.
//
// When superseded frames outweigh the live ones (and the log is larger
// than compactMin), the writer holding the flock compacts: it writes the
// header and one put per live record to a temporary file, syncs it, renames
// it over the log and syncs the directory. Readers and writers of other
// processes notice that the path names a new file and replay it.
//
// Layout version 1 kept one file per record under records/. Opening such a
// stage upgrades it (see createLog): the log is built from the record files
// and renamed into place, then the record files are replaced by movedFile,
// a record file that earlier versions of Athanor refuse to read (its format
// version is newer than theirs), so that they fail loudly instead of
// mistaking the stage for an empty one.

// LayoutVersion is the version of the on-disk layout of a stage written by
// this package: 1 for one JSON file per record under records/, 2 for the
// record log records.log.
const LayoutVersion = 2

const (
	logFile     = "records.log"
	movedFile   = "MOVED.json" // never the file name of a key (see encodeKey)
	frameMagic  = 0xA7
	frameHeader = 10
	kindHeader  = 'H'
	kindPut     = 'P'
	kindDelete  = 'D'
	maxPayload  = 1 << 30
)

// compactMin is the log size below which the log is never compacted; a
// variable for the tests.
var compactMin int64 = 4 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Seams for the tests of this package; production code never changes them.
var (
	writeLog = func(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }
	syncLog  = datasync
)

// appendFrame appends a frame of kind with the concatenated payload parts.
func appendFrame(buf []byte, kind byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	buf, start := beginFrame(buf, kind, n)
	for _, p := range parts {
		buf = append(buf, p...)
	}
	return sealFrame(buf, start)
}

// appendPut appends the put frame of key's record data (see parsePut for
// its payload), without allocating the payload.
func appendPut(buf []byte, key string, data []byte) []byte {
	buf, start := beginFrame(buf, kindPut, 2+len(key)+len(data))
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(key)))
	buf = append(buf, key...)
	buf = append(buf, data...)
	return sealFrame(buf, start)
}

// beginFrame appends the header of a frame of kind whose payload is n
// bytes, its CRC left for sealFrame, and returns where the frame starts.
func beginFrame(buf []byte, kind byte, n int) ([]byte, int) {
	start := len(buf)
	buf = append(buf, frameMagic, kind, 0, 0, 0, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(buf[start+2:], uint32(n))
	return buf, start
}

// sealFrame sets the CRC of the frame that starts at buf[start] and ends
// buf.
func sealFrame(buf []byte, start int) []byte {
	crc := crc32.Update(0, castagnoli, buf[start+1:start+6])
	crc = crc32.Update(crc, castagnoli, buf[start+frameHeader:])
	binary.LittleEndian.PutUint32(buf[start+6:], crc)
	return buf
}

// nextFrame parses the frame at the start of b. ok is false when b does not
// start with a complete, valid frame.
func nextFrame(b []byte) (kind byte, payload []byte, size int, ok bool) {
	if len(b) < frameHeader || b[0] != frameMagic {
		return 0, nil, 0, false
	}
	n := binary.LittleEndian.Uint32(b[2:])
	if n > maxPayload || int64(len(b)) < frameHeader+int64(n) {
		return 0, nil, 0, false
	}
	size = frameHeader + int(n)
	crc := crc32.Update(0, castagnoli, b[1:6])
	crc = crc32.Update(crc, castagnoli, b[frameHeader:size])
	if crc != binary.LittleEndian.Uint32(b[6:]) {
		return 0, nil, 0, false
	}
	return b[1], b[frameHeader:size], size, true
}

// parsePut splits the payload of a put frame: the key's length (2 bytes,
// little-endian), the key and the record's JSON.
func parsePut(p []byte) (key string, data []byte, ok bool) {
	if len(p) < 2 {
		return "", nil, false
	}
	n := int(binary.LittleEndian.Uint16(p))
	if len(p) < 2+n {
		return "", nil, false
	}
	return string(p[2 : 2+n]), p[2+n:], true
}

type logHeader struct {
	LayoutVersion int `json:"layoutVersion"`
}

func headerFrame(buf []byte) []byte {
	h, _ := json.Marshal(logHeader{LayoutVersion: LayoutVersion})
	return appendFrame(buf, kindHeader, h)
}

// logs holds the stageLog of every stage this process has open, keyed by
// the absolute path of its directory, so that all Backends of a stage in a
// process share one index and one group commit.
var (
	logsMu sync.Mutex
	logs   = map[string]*stageLog{}
)

// stageLog is the record log of one stage directory.
type stageLog struct {
	dir, path string
	refs      int // Backends using it; guarded by logsMu

	mu   sync.Mutex
	f    *os.File          // the log, nil until (re)opened
	end  int64             // offset up to which frames are applied
	recs map[string][]byte // key -> record JSON
	live int64             // bytes of the frames of the records in recs
	// dirSyncOwed is set when a compaction renamed a new log into place but
	// could not sync the directory; the next group syncs it before acking.
	dirSyncOwed bool

	cmu   sync.Mutex
	queue []*logOp // waiting for the next group commit
	busy  bool     // a leader is committing a group

	// wbuf is the frames buffer of the group being committed, kept by its
	// leader for the next group (up to maxKeptBuf); guarded by leadership.
	wbuf []byte
}

// maxKeptBuf bounds the frames buffer a stageLog keeps between groups.
const maxKeptBuf = 4 << 20

// logOp is one Put (data set) or Delete awaiting its group commit.
type logOp struct {
	key  string
	data []byte
	// lock is the stage lock held by the op's Backend, if any: the op is
	// refused when it was lost (a forced unlock) by the time its group is
	// written.
	lock *fileLock
	// Set by the leader that commits the op, or by the one that hands
	// leadership over to its writer, before wake is closed.
	err    error
	leader bool
	wake   chan struct{}
}

// acquireLog returns the stageLog of dir, creating or upgrading the log on
// first use; release it with releaseLog.
func acquireLog(dir string) (*stageLog, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = filepath.Clean(dir)
	}
	logsMu.Lock()
	defer logsMu.Unlock()
	if l := logs[abs]; l != nil {
		l.refs++
		return l, nil
	}
	l := &stageLog{dir: abs, path: filepath.Join(abs, logFile)}
	if err := l.prepare(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	err = l.refresh()
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	l.refs = 1
	logs[abs] = l
	return l, nil
}

// releaseLog drops a reference to l, closing it after the last one.
func releaseLog(l *stageLog) {
	logsMu.Lock()
	defer logsMu.Unlock()
	if l.refs--; l.refs > 0 {
		return
	}
	delete(logs, l.dir)
	l.mu.Lock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	l.mu.Unlock()
}

// prepare makes sure the log exists, creating it (from the record files of
// layout version 1, if any) when it does not, and finishes an upgrade that
// was interrupted after the log was in place.
func (l *stageLog) prepare() error {
	recDir := filepath.Join(l.dir, recordsDir)
	_, err := os.Stat(l.path)
	if err == nil {
		if leftovers(recDir) {
			return l.underDirLock(func() error {
				if leftovers(recDir) {
					return retireRecordFiles(recDir)
				}
				return nil
			})
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return l.underDirLock(func() error {
		if _, err := os.Stat(l.path); err == nil {
			if leftovers(recDir) { // created by another process meanwhile
				return retireRecordFiles(recDir)
			}
			return nil
		}
		return l.createLog(recDir)
	})
}

// underDirLock runs fn holding an exclusive flock on the stage directory,
// which serialises the creation and upgrade of the log across processes.
func (l *stageLog) underDirLock(fn func() error) error {
	d, err := os.Open(l.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := lockWait(d); err != nil {
		return err
	}
	defer unflock(d)
	return fn()
}

// createLog writes a new log holding the records of the layout-1 record
// files in recDir, if any, renames it into place and then retires the
// record files.
func (l *stageLog) createLog(recDir string) error {
	buf := headerFrame(nil)
	ents, err := os.ReadDir(recDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// A records directory, even an empty one, is a stage of layout 1 that an
	// earlier version may open again: it gets movedFile.
	upgraded := err == nil
	for _, e := range ents {
		name := e.Name()
		if !isRecordFile(e) {
			continue
		}
		path := filepath.Join(recDir, name)
		r, err := readRecord(path)
		if err != nil {
			return fmt.Errorf("upgrade to layout version %d: %w", LayoutVersion, err)
		}
		if fileName(r.Key) != name {
			return fmt.Errorf("upgrade to layout version %d: %s holds key %q, whose file is %s", LayoutVersion, path, r.Key, fileName(r.Key))
		}
		data, err := state.EncodeRecord(r)
		if err != nil {
			return fmt.Errorf("upgrade to layout version %d: %s: %w", LayoutVersion, path, err)
		}
		buf = appendPut(buf, r.Key, data)
	}
	tmp := filepath.Join(l.dir, tempName(logFile))
	if err := writeSynced(tmp, buf); err != nil {
		removeFile(tmp)
		return err
	}
	if err := renameFile(tmp, l.path); err != nil {
		removeFile(tmp)
		return err
	}
	if err := syncDirectory(l.dir); err != nil {
		return err
	}
	if upgraded {
		return retireRecordFiles(recDir)
	}
	return nil
}

// isRecordFile reports whether e is a layout-1 record file.
func isRecordFile(e fs.DirEntry) bool {
	name := e.Name()
	return !strings.HasPrefix(name, ".") && strings.HasSuffix(name, recordExt) && name != movedFile && e.Type().IsRegular()
}

// leftovers reports whether recDir holds record files, left by an upgrade
// interrupted after its log was in place.
func leftovers(recDir string) bool {
	ents, err := os.ReadDir(recDir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if isRecordFile(e) {
			return true
		}
	}
	return false
}

// movedRecord is the content of movedFile: a record of a format version no
// release before layout version 2 reads, so that those releases refuse the
// stage (state.ErrFormat) instead of finding it empty.
var movedRecord = []byte(`{"formatVersion":1000,"key":"MOVED","note":"this stage was upgraded to layout version 2: its records are in ../records.log, which this version of Athanor cannot read; use a newer one"}` + "\n")

// retireRecordFiles writes movedFile into recDir and removes the record
// files there, all of which the log holds.
func retireRecordFiles(recDir string) error {
	if err := writeSynced(filepath.Join(recDir, movedFile), movedRecord); err != nil {
		return fmt.Errorf("upgrade to layout version %d: %w", LayoutVersion, err)
	}
	ents, err := os.ReadDir(recDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if isRecordFile(e) {
			if err := removeFile(filepath.Join(recDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("upgrade to layout version %d: %w", LayoutVersion, err)
			}
		}
	}
	return syncDirectory(recDir)
}

// refresh brings the index up to date with the log: it reopens the log when
// its path names another file (compacted by another process) and applies
// the complete frames past end. l.mu must be held.
func (l *stageLog) refresh() error {
	var fi os.FileInfo
	if l.f != nil {
		var err error
		if fi, err = l.f.Stat(); err != nil {
			return err
		}
		pi, err := os.Stat(l.path)
		if err != nil {
			return err
		}
		if !os.SameFile(fi, pi) {
			l.f.Close()
			l.f = nil
		}
	}
	if l.f == nil {
		f, err := os.OpenFile(l.path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		if fi, err = f.Stat(); err != nil {
			f.Close()
			return err
		}
		l.f, l.end, l.recs, l.live = f, 0, make(map[string][]byte), 0
	}
	if fi.Size() < l.end {
		// Cut below what was read (not by this package, which only cuts
		// torn tails): replay from the start.
		l.f.Close()
		l.f = nil
		return l.refresh()
	}
	if fi.Size() == l.end {
		return nil
	}
	buf := make([]byte, fi.Size()-l.end)
	n, err := l.f.ReadAt(buf, l.end)
	if n < len(buf) && err != nil {
		return err
	}
	buf = buf[:n]
	off := 0
	if l.end == 0 {
		kind, p, size, ok := nextFrame(buf)
		if !ok || kind != kindHeader {
			return fmt.Errorf("%w: %s does not start with a log header", errLogFormat, l.path)
		}
		var h logHeader
		if err := json.Unmarshal(p, &h); err != nil {
			return fmt.Errorf("%w: %s: header: %v", errLogFormat, l.path, err)
		}
		if h.LayoutVersion != LayoutVersion {
			return fmt.Errorf("%w: %s has layout version %d; this version of Athanor reads version %d", errLogFormat, l.path, h.LayoutVersion, LayoutVersion)
		}
		off = size
	}
	for off < len(buf) {
		kind, p, size, ok := nextFrame(buf[off:])
		if !ok {
			break // a torn tail, or a frame still being written
		}
		switch kind {
		case kindPut:
			key, data, ok := parsePut(p)
			if !ok {
				return fmt.Errorf("%w: %s: malformed put at offset %d", errLogFormat, l.path, l.end+int64(off))
			}
			l.set(key, data)
		case kindDelete:
			l.set(string(p), nil)
		default:
			return fmt.Errorf("%w: %s: unknown frame kind %q at offset %d", errLogFormat, l.path, kind, l.end+int64(off))
		}
		off += size
	}
	l.end += int64(off)
	return nil
}

// set applies a put (data set) or deletion of key to the index.
func (l *stageLog) set(key string, data []byte) {
	if old, ok := l.recs[key]; ok {
		l.live -= putSize(key, old)
	}
	if data == nil {
		delete(l.recs, key)
		return
	}
	l.recs[key] = data
	l.live += putSize(key, data)
}

func putSize(key string, data []byte) int64 {
	return int64(frameHeader + 2 + len(key) + len(data))
}

// get returns the JSON of key's record, or false.
func (l *stageLog) get(key string) ([]byte, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.refresh(); err != nil {
		return nil, false, err
	}
	data, ok := l.recs[key]
	return data, ok, nil
}

// all returns the JSON of every record.
func (l *stageLog) all() (map[string][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.refresh(); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(l.recs))
	for k, v := range l.recs {
		out[k] = v
	}
	return out, nil
}

// commit queues op for the next group commit and returns once the sync
// covering it has completed, with op's error. The writer that finds no
// group in progress leads: it appends everything queued, syncs once and
// acknowledges the group, then hands leadership to the oldest writer queued
// meanwhile, so that no writer leads more than one group.
func (l *stageLog) commit(op *logOp) error {
	op.wake = make(chan struct{})
	l.cmu.Lock()
	l.queue = append(l.queue, op)
	if l.busy {
		l.cmu.Unlock()
		<-op.wake
		if !op.leader {
			return op.err
		}
		l.cmu.Lock() // our op is at the head of the queue
	} else {
		l.busy = true
	}
	group := l.queue
	l.queue = nil
	l.cmu.Unlock()

	l.apply(group)
	for _, o := range group {
		if o != op {
			close(o.wake)
		}
	}

	l.cmu.Lock()
	if len(l.queue) > 0 {
		next := l.queue[0]
		next.leader = true
		close(next.wake)
	} else {
		l.busy = false
	}
	l.cmu.Unlock()
	return op.err
}

// apply appends the group's frames under the log's flock, syncs the log
// and sets each op's error; it compacts the log when due.
func (l *stageLog) apply(group []*logOp) {
	fail := func(err error) {
		for _, o := range group {
			o.err = err
		}
	}
	f, err := l.lockFile()
	if err != nil {
		fail(err)
		return
	}
	defer func() {
		unflock(f)
		f.Close()
	}()

	l.mu.Lock()
	if err := l.refresh(); err != nil {
		l.mu.Unlock()
		fail(err)
		return
	}
	// Holding the flock, nobody is writing: bytes past end are a torn tail.
	if fi, err := f.Stat(); err != nil || fi.Size() > l.end {
		if err == nil {
			err = f.Truncate(l.end)
		}
		if err != nil {
			l.mu.Unlock()
			fail(fmt.Errorf("truncate the torn tail of %s: %w", l.path, err))
			return
		}
	}
	// Fence the group: one check of each stage lock covers all its ops,
	// and being made holding the flock, right before the write, it is at
	// least as late as a check by each writer before it queued its op.
	var (
		fenced   *fileLock
		fenceErr error
		size     = 0
	)
	for _, o := range group {
		if o.lock != nil {
			if o.lock != fenced {
				fenced, fenceErr = o.lock, o.lock.check()
			}
			o.err = fenceErr
		}
		size += frameHeader + 2 + len(o.key) + len(o.data)
	}
	buf := l.wbuf[:0]
	if l.end == 0 {
		buf = headerFrame(buf) // an empty file, made by hand: start the log
	}
	buf = slices.Grow(buf, size)
	defer func() {
		if cap(buf) <= maxKeptBuf {
			l.wbuf = buf[:0]
		}
	}()
	for _, o := range group {
		if o.err != nil {
			continue // fenced off
		}
		if o.data == nil {
			if _, ok := l.recs[o.key]; !ok {
				continue // nothing to delete
			}
			buf = appendFrame(buf, kindDelete, []byte(o.key))
		} else {
			buf = appendPut(buf, o.key, o.data)
		}
		l.set(o.key, o.data)
	}
	if len(buf) == 0 && !l.dirSyncOwed {
		l.mu.Unlock()
		return
	}
	if _, err := writeLog(f, buf, l.end); err != nil {
		l.reset()
		l.mu.Unlock()
		fail(fmt.Errorf("write %s: %w", l.path, err))
		return
	}
	l.end += int64(len(buf))
	owed := l.dirSyncOwed
	l.mu.Unlock()

	if err := syncLog(f); err != nil {
		l.mu.Lock()
		l.reset()
		l.mu.Unlock()
		fail(fmt.Errorf("sync %s: %w", l.path, err))
		return
	}
	if owed {
		// A compaction's rename is not known to be durable: until it is,
		// a crash could bring back the log it replaced, without this group.
		if err := syncDirectory(l.dir); err != nil {
			fail(fmt.Errorf("sync %s: %w", l.dir, err))
			return
		}
		l.mu.Lock()
		l.dirSyncOwed = false
		l.mu.Unlock()
	}

	l.mu.Lock()
	if l.end > compactMin && l.end-l.live > l.live {
		l.compact() // the group is durable whether or not this succeeds
	}
	l.mu.Unlock()
}

// reset drops the index, which no longer matches the file after a failed
// write, so that the next refresh replays the log. l.mu must be held.
func (l *stageLog) reset() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// lockFile opens the log and takes its exclusive flock, retrying when
// another process replaced the log (compacted it) between the open and
// the lock. The caller unlocks and closes the file.
func (l *stageLog) lockFile() (*os.File, error) {
	for {
		f, err := os.OpenFile(l.path, os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		if err := lockWait(f); err != nil {
			f.Close()
			return nil, err
		}
		if sameFile(f, l.path) {
			return f, nil
		}
		unflock(f)
		f.Close()
	}
}

// compact rewrites the log with one put per live record and renames the
// result over the log. It runs holding the flock of the current log and
// l.mu; writers of other processes waiting for the flock of the old file
// find that it was replaced.
func (l *stageLog) compact() {
	keys := make([]string, 0, len(l.recs))
	for k := range l.recs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := headerFrame(make([]byte, 0, l.live+64))
	for _, k := range keys {
		buf = appendPut(buf, k, l.recs[k])
	}
	tmp := filepath.Join(l.dir, tempName(logFile))
	if err := writeSynced(tmp, buf); err != nil {
		removeFile(tmp)
		return
	}
	nf, err := os.OpenFile(tmp, os.O_RDONLY, 0)
	if err != nil {
		removeFile(tmp)
		return
	}
	if err := renameFile(tmp, l.path); err != nil {
		nf.Close()
		removeFile(tmp)
		return
	}
	// Both logs hold the same records, so either is the stage after a
	// crash; but writes appended to the new one must wait until its rename
	// is durable.
	if err := syncDirectory(l.dir); err != nil {
		l.dirSyncOwed = true
	}
	l.f.Close()
	l.f, l.end = nf, int64(len(buf))
}

// errLogFormat is wrapped by errors about a log that cannot be read.
var errLogFormat = fmt.Errorf("%w: record log", state.ErrFormat)
