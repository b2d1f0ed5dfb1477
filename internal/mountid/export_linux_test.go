package mountid

// For the external tests: the fdinfo route, and the ID it gives for a
// reusable mount ID n.
var FromFdinfo = fromFdinfo

func Reusable(n uint64) ID { return ID{kindMount, n} }
