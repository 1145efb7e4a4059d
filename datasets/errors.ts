// The one error type of the image data-set loaders (CIFAR, Oxford-IIIT Pet, image folders, statistics). Every
// message is one line that names the file at fault, since the user's fix is "replace or remove that file".
export class DatasetError extends Error {
  override name = 'DatasetError';
}
