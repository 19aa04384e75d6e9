from thresher.model import Record
from thresher.store import Store


def test_writer_dedups_and_streams(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    recs = [Record(content={"kind": "text", "text": f"doc {i}"}) for i in range(7)]
    with store.writer(ds, batch_size=3) as w:
        for r in recs:
            w.add(r)
    assert (w.added, w.duplicates) == (7, 0)
    with store.writer(ds) as w:
        for r in recs:
            w.add(r)
    assert (w.added, w.duplicates) == (0, 7)
    pages = list(store.iter_records(ds, batch_size=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [r.to_record().content.text for p in pages for r in p] == [f"doc {i}" for i in range(7)]
