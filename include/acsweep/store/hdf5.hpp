#pragma once
// RAII wrappers of the HDF5 C API: every handle closes itself, every return code is checked and
// turned into a StoreError naming the call, the object and HDF5's own reason.
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace acsweep::store {

class StoreError : public std::runtime_error {
 public:
  explicit StoreError(const std::string& what) : std::runtime_error(what) {}
};

// Throws StoreError when an HDF5 call returned a negative status or an invalid id.
void check_h5(herr_t status, const std::string& what);
hid_t check_h5_id(hid_t id, const std::string& what);

// Owns one hid_t and the function that closes it.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& other) noexcept
      : id_(other.id_), closer_(other.closer_), collective_(other.collective_) {
    other.id_ = -1;
  }
  H5Handle& operator=(H5Handle&& other) noexcept;
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;

  hid_t get() const { return id_; }
  // Closes now and checks the result (destructors cannot report a failed close).
  void close(const std::string& what);
  // Closing is collective over more than one rank (a file opened through MPI-IO): when an
  // exception unwinds past it on one rank, the close is left undone, since the others are not in
  // it and would never be; that rank then ends the job (cli/dispatch.cpp aborts it).
  void set_collective() { collective_ = true; }

 private:
  void reset() noexcept;
  hid_t id_ = -1;
  Closer closer_ = nullptr;
  bool collective_ = false;
};

// A file or group: the place datasets, groups and attributes are written.
class H5Location {
 public:
  H5Location(H5Handle handle, std::string path) : handle_(std::move(handle)), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  hid_t id() const { return handle_.get(); }

  bool has(const std::string& name) const;
  H5Location create_group(const std::string& name);
  H5Location open_group(const std::string& name) const;
  void remove(const std::string& name);

  // Row-major datasets of the given shape (product of dims == values.size()).
  void write(const std::string& name, const std::vector<double>& values, std::vector<hsize_t> dims = {});
  void write(const std::string& name, const std::vector<std::int64_t>& values,
             std::vector<hsize_t> dims = {});
  void write(const std::string& name, const std::vector<std::string>& values);  // UTF-8 strings

  std::vector<std::string> read_strings(const std::string& name) const;
  std::vector<double> read_doubles(const std::string& name) const;

  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, double value);
  void set_attribute(const std::string& name, std::int64_t value);
  std::string string_attribute(const std::string& name) const;

 protected:
  H5Handle handle_;
  std::string path_;  // file path plus object path, for messages
};

// A dataset of fixed shape whose rows are written piecewise: in a file opened by several ranks,
// each rank writes its own rows independently (only structure changes must be collective).
class H5Dataset {
 public:
  // Collective in a parallel file. Storage is allocated at creation and filled with *fill.
  static H5Dataset create(H5Location& at, const std::string& name, hid_t type,
                          const std::vector<hsize_t>& dims, const void* fill);
  static H5Dataset open(const H5Location& at, const std::string& name);
  // Rows [first, first + rows) of dimension 0, every column; `data` is in `memory_type`.
  void write_rows(hsize_t first, hsize_t rows, hid_t memory_type, const void* data);
  void read_all(hid_t memory_type, void* data) const;
  std::vector<hsize_t> dims() const;
  const std::string& path() const { return path_; }

 private:
  H5Dataset(H5Handle handle, std::string path) : handle_(std::move(handle)), path_(std::move(path)) {}
  H5Handle handle_;
  std::string path_;
};

// A fixed-length string type (parallel HDF5 cannot write variable-length strings).
H5Handle fixed_string_type(std::size_t length);

class H5File : public H5Location {
 public:
  static H5File create(const std::string& path);  // truncates
  // Collective over `comm`: every rank opens the same file through MPI-IO.
  static H5File create_parallel(const std::string& path, MPI_Comm comm);
  void flush() { check_h5(H5Fflush(id(), H5F_SCOPE_GLOBAL), "flushing " + path_); }
  static H5File open_read_write(const std::string& path);
  static H5File open_read_only(const std::string& path);
  void close() { handle_.close("closing " + path_); }

 private:
  H5File(H5Handle handle, const std::string& path) : H5Location(std::move(handle), path) {}
};

}  // namespace acsweep::store
