#include "acsweep/store/hdf5.hpp"

#include <algorithm>
#include <exception>
#include <numeric>

namespace acsweep::store {
namespace {

// HDF5 prints its error stack to stderr by default; we report it in the exception instead.
void silence_hdf5_error_printing() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// The error stack from the API call down: its first and its last description.
herr_t keep_ends(unsigned n, const H5E_error2_t* error, void* out) {
  auto& ends = *static_cast<std::pair<std::string, std::string>*>(out);
  if (!error->desc) return 0;
  (n == 0 ? ends.first : ends.second) = error->desc;
  return 0;
}

// What HDF5 says went wrong: the call's own reason and, when it differs, the deepest one, where a
// failed write names the system's (a full disk: "No space left on device").
std::string hdf5_reason() {
  std::pair<std::string, std::string> ends;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_ends, &ends);
  H5Eclear2(H5E_DEFAULT);
  std::string reason = ends.first;
  if (!ends.second.empty() && ends.second != ends.first) reason += (reason.empty() ? "" : ": ") + ends.second;
  return reason.empty() ? "" : " (" + reason + ")";
}

H5Handle dataspace(const std::vector<hsize_t>& dims) {
  return H5Handle(
      check_h5_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple"),
      H5Sclose);
}

H5Handle utf8_string_type() {
  H5Handle type(check_h5_id(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  check_h5(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  check_h5(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}

template <class T>
void write_numeric(H5Location& at, const std::string& name, const std::vector<T>& values,
                   std::vector<hsize_t> dims, hid_t type) {
  if (dims.empty()) dims = {static_cast<hsize_t>(values.size())};
  const hsize_t count = std::accumulate(dims.begin(), dims.end(), hsize_t{1}, std::multiplies<>());
  if (count != values.size())
    throw StoreError(at.path() + "/" + name + ": shape does not match " + std::to_string(values.size()) +
                     " values");
  const std::string where = at.path() + "/" + name;
  H5Handle space = dataspace(dims);
  H5Handle set(
      check_h5_id(H5Dcreate2(at.id(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  "creating dataset " + where),
      H5Dclose);
  if (!values.empty())
    check_h5(H5Dwrite(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
             "writing dataset " + where);
  set.close("closing dataset " + where);
}

void write_attribute(hid_t on, const std::string& where, const std::string& name, hid_t type,
                     const void* value) {
  if (H5Aexists(on, name.c_str()) > 0)
    check_h5(H5Adelete(on, name.c_str()), "replacing attribute " + where + "@" + name);
  H5Handle space(check_h5_id(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  H5Handle attr(check_h5_id(H5Acreate2(on, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                            "creating attribute " + where + "@" + name),
                H5Aclose);
  check_h5(H5Awrite(attr.get(), type, value), "writing attribute " + where + "@" + name);
  attr.close("closing attribute " + where + "@" + name);
}

}  // namespace

void check_h5(herr_t status, const std::string& what) {
  if (status < 0) throw StoreError("HDF5: " + what + " failed" + hdf5_reason());
}

hid_t check_h5_id(hid_t id, const std::string& what) {
  if (id < 0) throw StoreError("HDF5: " + what + " failed" + hdf5_reason());
  return id;
}

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    collective_ = other.collective_;
    other.id_ = -1;
  }
  return *this;
}

void H5Handle::reset() noexcept {
  const bool alone_in_a_collective = collective_ && std::uncaught_exceptions() > 0;
  if (id_ >= 0 && closer_ && !alone_in_a_collective) closer_(id_);
  id_ = -1;
}

void H5Handle::close(const std::string& what) {
  const hid_t id = id_;
  id_ = -1;
  if (id >= 0 && closer_) check_h5(closer_(id), what);
}

bool H5Location::has(const std::string& name) const {
  const htri_t exists = H5Lexists(id(), name.c_str(), H5P_DEFAULT);
  check_h5(exists < 0 ? -1 : 0, "looking up " + path_ + "/" + name);
  return exists > 0;
}

H5Location H5Location::create_group(const std::string& name) {
  const std::string where = path_ + "/" + name;
  return H5Location(
      H5Handle(check_h5_id(H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                           "creating group " + where),
               H5Gclose),
      where);
}

H5Location H5Location::open_group(const std::string& name) const {
  const std::string where = path_ + "/" + name;
  return H5Location(
      H5Handle(check_h5_id(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), "opening group " + where), H5Gclose),
      where);
}

void H5Location::remove(const std::string& name) {
  check_h5(H5Ldelete(id(), name.c_str(), H5P_DEFAULT), "removing " + path_ + "/" + name);
}

void H5Location::write(const std::string& name, const std::vector<double>& values,
                       std::vector<hsize_t> dims) {
  write_numeric(*this, name, values, std::move(dims), H5T_NATIVE_DOUBLE);
}

void H5Location::write(const std::string& name, const std::vector<std::int64_t>& values,
                       std::vector<hsize_t> dims) {
  write_numeric(*this, name, values, std::move(dims), H5T_NATIVE_INT64);
}

void H5Location::write(const std::string& name, const std::vector<std::string>& values) {
  const std::string where = path_ + "/" + name;
  std::vector<const char*> pointers;
  for (const auto& v : values) pointers.push_back(v.c_str());
  H5Handle type = utf8_string_type();
  H5Handle space = dataspace({static_cast<hsize_t>(values.size())});
  H5Handle set(check_h5_id(H5Dcreate2(id(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                      H5P_DEFAULT),
                           "creating dataset " + where),
               H5Dclose);
  if (!values.empty())
    check_h5(H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
             "writing dataset " + where);
  set.close("closing dataset " + where);
}

std::vector<std::string> H5Location::read_strings(const std::string& name) const {
  const std::string where = path_ + "/" + name;
  H5Handle set(check_h5_id(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), "opening dataset " + where), H5Dclose);
  H5Handle space(check_h5_id(H5Dget_space(set.get()), "H5Dget_space " + where), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  check_h5(n < 0 ? -1 : 0, "counting " + where);
  H5Handle stored(check_h5_id(H5Dget_type(set.get()), "H5Dget_type " + where), H5Tclose);
  const htri_t variable = H5Tis_variable_str(stored.get());
  check_h5(variable < 0 ? -1 : 0, "H5Tis_variable_str " + where);
  if (!variable) {  // fixed-length strings, as parallel writers store them
    const std::size_t length = H5Tget_size(stored.get());
    std::string packed(static_cast<std::size_t>(n) * length, '\0');
    if (n > 0)
      check_h5(H5Dread(set.get(), stored.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()),
               "reading " + where);
    std::vector<std::string> out;
    for (hssize_t i = 0; i < n; ++i) {
      std::string item = packed.substr(static_cast<std::size_t>(i) * length, length);
      out.push_back(item.substr(0, item.find('\0')));
    }
    return out;
  }
  std::vector<char*> raw(static_cast<std::size_t>(n), nullptr);
  H5Handle type = utf8_string_type();
  if (n > 0)
    check_h5(H5Dread(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()),
             "reading dataset " + where + " as strings");
  std::vector<std::string> out(raw.begin(), raw.end());
  if (n > 0) check_h5(H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, raw.data()), "H5Dvlen_reclaim");
  return out;
}

std::vector<double> H5Location::read_doubles(const std::string& name) const {
  const std::string where = path_ + "/" + name;
  H5Handle set(check_h5_id(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), "opening dataset " + where), H5Dclose);
  H5Handle space(check_h5_id(H5Dget_space(set.get()), "H5Dget_space " + where), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  check_h5(n < 0 ? -1 : 0, "counting " + where);
  std::vector<double> out(static_cast<std::size_t>(n));
  if (n > 0)
    check_h5(H5Dread(set.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
             "reading dataset " + where);
  return out;
}

void H5Location::set_attribute(const std::string& name, const std::string& value) {
  H5Handle type = utf8_string_type();
  const char* text = value.c_str();
  write_attribute(id(), path_, name, type.get(), &text);
}

void H5Location::set_attribute(const std::string& name, double value) {
  write_attribute(id(), path_, name, H5T_NATIVE_DOUBLE, &value);
}

void H5Location::set_attribute(const std::string& name, std::int64_t value) {
  write_attribute(id(), path_, name, H5T_NATIVE_INT64, &value);
}

std::string H5Location::string_attribute(const std::string& name) const {
  const std::string where = path_ + "@" + name;
  H5Handle attr(check_h5_id(H5Aopen(id(), name.c_str(), H5P_DEFAULT), "opening attribute " + where),
                H5Aclose);
  H5Handle type = utf8_string_type();
  char* text = nullptr;
  check_h5(H5Aread(attr.get(), type.get(), &text), "reading attribute " + where);
  std::string out = text ? text : "";
  H5free_memory(text);
  return out;
}

H5Dataset H5Dataset::create(H5Location& at, const std::string& name, hid_t type,
                            const std::vector<hsize_t>& dims, const void* fill) {
  const std::string where = at.path() + "/" + name;
  H5Handle space = dataspace(dims);
  H5Handle properties(check_h5_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"), H5Pclose);
  check_h5(H5Pset_alloc_time(properties.get(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time " + where);
  if (fill) check_h5(H5Pset_fill_value(properties.get(), type, fill), "H5Pset_fill_value " + where);
  check_h5(H5Pset_fill_time(properties.get(), H5D_FILL_TIME_ALLOC), "H5Pset_fill_time " + where);
  return H5Dataset(H5Handle(check_h5_id(H5Dcreate2(at.id(), name.c_str(), type, space.get(), H5P_DEFAULT,
                                                   properties.get(), H5P_DEFAULT),
                                        "creating dataset " + where),
                            H5Dclose),
                   where);
}

H5Dataset H5Dataset::open(const H5Location& at, const std::string& name) {
  const std::string where = at.path() + "/" + name;
  return H5Dataset(
      H5Handle(check_h5_id(H5Dopen2(at.id(), name.c_str(), H5P_DEFAULT), "opening dataset " + where),
               H5Dclose),
      where);
}

std::vector<hsize_t> H5Dataset::dims() const {
  H5Handle space(check_h5_id(H5Dget_space(handle_.get()), "H5Dget_space " + path_), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  check_h5(rank < 0 ? -1 : 0, "H5Sget_simple_extent_ndims " + path_);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  check_h5(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr),
           "H5Sget_simple_extent_dims " + path_);
  return dims;
}

void H5Dataset::write_rows(hsize_t first, hsize_t rows, hid_t memory_type, const void* data) {
  std::vector<hsize_t> dims = this->dims();
  if (dims.empty() || first + rows > dims[0])
    throw StoreError(path_ + ": rows " + std::to_string(first) + ".." + std::to_string(first + rows) +
                     " are outside the dataset");
  H5Handle file_space(check_h5_id(H5Dget_space(handle_.get()), "H5Dget_space " + path_), H5Sclose);
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = first;
  count[0] = rows;
  check_h5(
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
      "selecting rows of " + path_);
  H5Handle memory_space = dataspace(count);
  check_h5(H5Dwrite(handle_.get(), memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data),
           "writing rows of " + path_);
}

void H5Dataset::read_all(hid_t memory_type, void* data) const {
  check_h5(H5Dread(handle_.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "reading " + path_);
}

H5Handle fixed_string_type(std::size_t length) {
  H5Handle type(check_h5_id(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  check_h5(H5Tset_size(type.get(), std::max<std::size_t>(length, 1)), "H5Tset_size");
  check_h5(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "H5Tset_strpad");
  check_h5(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}

H5File H5File::create_parallel(const std::string& path, MPI_Comm comm) {
  silence_hdf5_error_printing();
  H5Handle access(check_h5_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  check_h5(H5Pset_fapl_mpio(access.get(), comm, MPI_INFO_NULL), "H5Pset_fapl_mpio " + path);
  H5Handle file(check_h5_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()),
                            "creating file " + path + " (parallel)"),
                H5Fclose);
  int ranks = 1;
  if (MPI_Comm_size(comm, &ranks) != MPI_SUCCESS) throw StoreError("MPI_Comm_size failed opening " + path);
  if (ranks > 1) file.set_collective();
  return H5File(std::move(file), path);
}

H5File H5File::create(const std::string& path) {
  silence_hdf5_error_printing();
  return H5File(H5Handle(check_h5_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                                     "creating file " + path),
                         H5Fclose),
                path);
}

H5File H5File::open_read_write(const std::string& path) {
  silence_hdf5_error_printing();
  return H5File(H5Handle(check_h5_id(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT),
                                     "opening file " + path + " for writing"),
                         H5Fclose),
                path);
}

H5File H5File::open_read_only(const std::string& path) {
  silence_hdf5_error_printing();
  return H5File(
      H5Handle(check_h5_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "opening file " + path),
               H5Fclose),
      path);
}

}  // namespace acsweep::store
