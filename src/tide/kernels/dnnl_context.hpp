// The oneDNN CPU engine and stream that every oneDNN kernel uses (internal to kernels).
#pragma once

#include <dnnl.hpp>

namespace tide {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();

// Copies `from` (memory of one layout) into a new memory of layout `to`, or returns `from`
// itself when the layouts already agree: the reorder at the edge of a oneDNN primitive.
dnnl::memory reorder_to(const dnnl::memory& from, const dnnl::memory::desc& to);
// Copies `from` into the existing memory `to` (of another layout, same logical shape).
void reorder_into(const dnnl::memory& from, const dnnl::memory& to);

}  // namespace tide
