! Fortran interface to the libckpt C API (libckpt/include/ckpt/ckpt.h),
! through iso_c_binding. Status codes and element types have the values of
! the C enums.
!
!   use ckpt_mod
!   ierr = ckpt_init_f(MPI_COMM_WORLD, c_null_char)      ! or "file.ini"//c_null_char
!   ierr = ckpt_protect(0, "grid"//c_null_char, c_loc(grid), size(grid, kind=c_size_t), CKPT_DOUBLE)
!   ierr = ckpt_restart_available(have, version, step)
!   if (have == 1) ierr = ckpt_restart(version, step)
!   ierr = ckpt_checkpoint(step)
!   ierr = ckpt_finalize()
module ckpt_mod
  use, intrinsic :: iso_c_binding
  implicit none
  private :: c_int, c_int64_t, c_size_t, c_ptr, c_char

  integer(c_int), parameter :: CKPT_SUCCESS = 0, CKPT_ERR_STATE = -1, CKPT_ERR_ARGUMENT = -2, &
       CKPT_ERR_CONFIG = -3, CKPT_ERR_IO = -4, CKPT_ERR_NO_SPACE = -5, CKPT_ERR_MISMATCH = -6, &
       CKPT_ERR_CORRUPT = -7, CKPT_ERR_NO_CHECKPOINT = -8, CKPT_ERR_MPI = -9, &
       CKPT_ERR_HDF5 = -10, CKPT_ERR_INTERNAL = -11
  integer(c_int), parameter :: CKPT_BYTE = 0, CKPT_CHAR = 1, CKPT_INT32 = 2, CKPT_UINT32 = 3, &
       CKPT_INT64 = 4, CKPT_UINT64 = 5, CKPT_FLOAT = 6, CKPT_DOUBLE = 7
  integer(c_int), parameter :: CKPT_EXIT_REQUEUE = 85
  integer(c_int), parameter :: CKPT_TRACKING_AUTO = 0, CKPT_TRACKING_HASH = 1, &
       CKPT_TRACKING_PAGES = 2

  interface
    integer(c_int) function ckpt_init_f(comm, config_file) bind(C, name="ckpt_init_f")
      import :: c_int, c_char
      integer(c_int), value :: comm
      character(kind=c_char), dimension(*) :: config_file
    end function
    integer(c_int) function ckpt_protect(id, name, ptr, count, type) bind(C, name="ckpt_protect")
      import :: c_int, c_char, c_ptr, c_size_t
      integer(c_int), value :: id, type
      character(kind=c_char), dimension(*) :: name
      type(c_ptr), value :: ptr
      integer(c_size_t), value :: count
    end function
    ! A piece of a global array; dims in C order (slowest first): reverse a
    ! Fortran array's shape, e.g. global_dims = [ny, nx] for grid(nx, ny).
    integer(c_int) function ckpt_protect_global(id, name, ptr, type, ndims, global_dims, &
                                                offset, local_dims) bind(C, name="ckpt_protect_global")
      import :: c_int, c_char, c_ptr, c_size_t
      integer(c_int), value :: id, type, ndims
      character(kind=c_char), dimension(*) :: name
      type(c_ptr), value :: ptr
      integer(c_size_t), dimension(*), intent(in) :: global_dims, offset, local_dims
    end function
    integer(c_int) function ckpt_unprotect(id) bind(C, name="ckpt_unprotect")
      import :: c_int
      integer(c_int), value :: id
    end function
    integer(c_int) function ckpt_set_tracking(id, mode) bind(C, name="ckpt_set_tracking")
      import :: c_int
      integer(c_int), value :: id, mode
    end function
    integer(c_int) function ckpt_checkpoint(step) bind(C, name="ckpt_checkpoint")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: step
    end function
    integer(c_int) function ckpt_wait_global(version) bind(C, name="ckpt_wait_global")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: version
    end function
    integer(c_int) function ckpt_restart_available(exists, version, step) &
         bind(C, name="ckpt_restart_available")
      import :: c_int, c_int64_t
      integer(c_int), intent(out) :: exists
      integer(c_int64_t), intent(out) :: version, step
    end function
    integer(c_int) function ckpt_restart(version, step) bind(C, name="ckpt_restart")
      import :: c_int, c_int64_t
      integer(c_int64_t), intent(out) :: version, step
    end function
    integer(c_int) function ckpt_need_checkpoint(flag) bind(C, name="ckpt_need_checkpoint")
      import :: c_int
      integer(c_int), intent(out) :: flag
    end function
    integer(c_int) function ckpt_site(step, taken) bind(C, name="ckpt_site")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: step
      integer(c_int), intent(out) :: taken
    end function
    integer(c_int) function ckpt_request_checkpoint() bind(C, name="ckpt_request_checkpoint")
      import :: c_int
    end function
    integer(c_int) function ckpt_should_exit(flag) bind(C, name="ckpt_should_exit")
      import :: c_int
      integer(c_int), intent(out) :: flag
    end function
    integer(c_int) function ckpt_finalize() bind(C, name="ckpt_finalize")
      import :: c_int
    end function
  end interface

contains

  !> The most recent error of this thread, as a Fortran string.
  function ckpt_error_message() result(message)
    interface
      type(c_ptr) function c_last_error() bind(C, name="ckpt_last_error")
        import :: c_ptr
      end function
      integer(c_size_t) function c_strlen(s) bind(C, name="strlen")
        import :: c_ptr, c_size_t
        type(c_ptr), value :: s
      end function
    end interface
    character(len=:), allocatable :: message
    character(kind=c_char), pointer :: chars(:)
    type(c_ptr) :: p
    integer :: i, n
    p = c_last_error()
    n = int(c_strlen(p))
    call c_f_pointer(p, chars, [n])
    allocate(character(len=n) :: message)
    do i = 1, n
      message(i:i) = chars(i)
    end do
  end function
end module ckpt_mod
