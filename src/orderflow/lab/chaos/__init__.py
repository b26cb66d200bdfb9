"""``orderflow chaos``: the crash and fault campaigns (``campaign``) and their figures."""
